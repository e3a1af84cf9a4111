//! A throwaway PostgreSQL server for tests: Debian's `initdb` and `pg_ctl` in a temporary
//! directory, on a free loopback port, with a password (so tests can check it is never
//! printed), stopped on drop, as the anvil helper does. `initdb` refuses to run as root: as
//! root (CI), the server runs as an unprivileged user (`ZKINFER_TEST_PG_USER`, default
//! `postgres`, which Debian's packages create) on a directory chowned to it. The binaries are
//! found on PATH or under `/usr/lib/postgresql/*/bin` (`scripts/setup.sh` installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The superuser's password in these throwaway servers.
pub const PASSWORD: &str = "pg-test-secret-7f3a";

/// A running server; stopped (and its files removed) when dropped.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    user: Option<String>,
    port: u16,
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The directory holding `initdb` and `pg_ctl`.
fn bin_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&p) {
            if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
                return d;
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let b = e.path().join("bin");
            b.join("initdb").is_file().then_some((v, b))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server binaries (initdb, pg_ctl) are neither on PATH nor under \
             /usr/lib/postgresql/*/bin: run scripts/setup.sh, which installs Debian's postgresql"
        )
    })
}

/// A test CA and a server certificate it signed for 127.0.0.1 and localhost (PEM).
pub struct TestCerts {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl TestCerts {
    pub fn new() -> Self {
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
        use openssl::x509::{X509NameBuilder, X509};
        let name = |cn: &str| {
            let mut n = X509NameBuilder::new().unwrap();
            n.append_entry_by_text("CN", cn).unwrap();
            n.build()
        };
        let make = |cn: &str, serial: u32, ca: Option<(&X509, &PKey<openssl::pkey::Private>)>| {
            let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
            let mut b = X509::builder().unwrap();
            b.set_version(2).unwrap();
            b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
                .unwrap();
            b.set_subject_name(&name(cn)).unwrap();
            b.set_pubkey(&key).unwrap();
            b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
                .unwrap();
            b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
                .unwrap();
            match ca {
                None => {
                    b.set_issuer_name(&name(cn)).unwrap();
                    let bc = BasicConstraints::new().critical().ca().build().unwrap();
                    b.append_extension(bc).unwrap();
                    b.sign(&key, MessageDigest::sha256()).unwrap();
                }
                Some((ca_cert, ca_key)) => {
                    b.set_issuer_name(ca_cert.subject_name()).unwrap();
                    let san = SubjectAlternativeName::new()
                        .ip("127.0.0.1")
                        .dns("localhost")
                        .build(&b.x509v3_context(Some(ca_cert), None))
                        .unwrap();
                    b.append_extension(san).unwrap();
                    b.sign(ca_key, MessageDigest::sha256()).unwrap();
                }
            }
            (b.build(), key)
        };
        let (ca, ca_key) = make("zkinfer test CA", 1, None);
        let (cert, key) = make("127.0.0.1", 2, Some((&ca, &ca_key)));
        let pem = |c: &X509| String::from_utf8(c.to_pem().unwrap()).unwrap();
        Self {
            ca: pem(&ca),
            cert: pem(&cert),
            key: String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
        }
    }
}

impl PgServer {
    /// Starts one (ready when `pg_ctl -w` returns).
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts one that accepts TLS connections only, with `certs`' server certificate.
    pub fn start_tls(certs: &TestCerts) -> Self {
        Self::start_with(Some(certs))
    }

    fn start_with(tls: Option<&TestCerts>) -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let root = output(Command::new("id").arg("-u")) == "0";
        let user = root
            .then(|| std::env::var("ZKINFER_TEST_PG_USER").unwrap_or_else(|_| "postgres".into()));
        let pw = dir.path().join("pw");
        std::fs::write(&pw, PASSWORD).unwrap();
        if let Some(u) = &user {
            let uid: u32 = output(Command::new("id").args(["-u", u])).parse().unwrap();
            let gid: u32 = output(Command::new("id").args(["-g", u])).parse().unwrap();
            for p in [dir.path(), pw.as_path()] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = Self {
            dir,
            bin,
            user,
            port,
        };
        let data = s.data();
        output(s.cmd("initdb").args([
            "-D",
            &data,
            "-U",
            "zkinfer",
            "--auth=scram-sha-256",
            &format!("--pwfile={}", pw.display()),
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        let mut opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=60",
            s.dir.path().display()
        );
        if let Some(t) = tls {
            let d = Path::new(&data);
            std::fs::write(d.join("server.crt"), &t.cert).unwrap();
            std::fs::write(d.join("server.key"), &t.key).unwrap();
            // Only TLS connections from loopback, and the local socket for pg_ctl.
            std::fs::write(
                d.join("pg_hba.conf"),
                "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
            )
            .unwrap();
            for f in ["server.crt", "server.key", "pg_hba.conf"] {
                let p = d.join(f);
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
                if let Some(u) = &s.user {
                    let uid: u32 = output(Command::new("id").args(["-u", u])).parse().unwrap();
                    let gid: u32 = output(Command::new("id").args(["-g", u])).parse().unwrap();
                    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
                }
            }
            opts.push_str(" -c ssl=on");
        }
        let log = s.dir.path().join("server.log");
        output(s.cmd("pg_ctl").args([
            "-D",
            &data,
            "-l",
            &log.display().to_string(),
            "-w",
            "-t",
            "60",
            "-o",
            &opts,
            "start",
        ]));
        s
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// `tool`, as the server's user.
    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    /// A URL of a database (created on first use) on it, with the password.
    pub fn url(&self, db: &str) -> String {
        if db != "postgres" {
            let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
            let exists = c
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
                .unwrap()
                .is_some();
            if !exists {
                c.batch_execute(&format!("CREATE DATABASE \"{db}\""))
                    .unwrap();
            }
        }
        format!("postgres://zkinfer:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// Its port.
    pub fn url_port(&self) -> u16 {
        self.port
    }

    /// A direct client, for checks.
    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls).unwrap()
    }

    /// Its log (shown when a test fails).
    #[allow(dead_code)]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    #[allow(dead_code)]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .cmd("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
