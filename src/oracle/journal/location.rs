//! Where a journal lives: a SQLite file's path or a PostgreSQL URL, parsed so that the URL's
//! credentials never show (see [`super::db`] for TLS and what is printed), and the TLS
//! connection to a PostgreSQL journal.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::db::{blocking, pg_error};

/// Where a journal lives.
#[derive(Clone)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PgTarget>),
}

/// A parsed PostgreSQL URL (its password stays inside).
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    root_cert: Option<PathBuf>,
    shown: String,
}

impl Location {
    /// `postgres://...` or `postgresql://...` is a PostgreSQL database; a path is a SQLite
    /// file. Anything else that looks like a connection string (another scheme, or libpq's
    /// `key=value` form) is refused. Errors never quote the value, which may hold a password.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            if lower.contains("://") || lower.contains("password=") || lower.contains("host=") {
                return Err("--journal: give a SQLite file's path or a PostgreSQL URL \
                            (postgres://USER:PASSWORD@HOST:PORT/DB); this value is neither (not \
                            repeated here: it may hold a password)"
                    .into());
            }
            return Ok(Location::Sqlite(PathBuf::from(s)));
        }
        let (scheme, rest) = t.split_once("://").unwrap_or(("postgres", t));
        // The credentials end at the last '@': a password may hold an unescaped '?' or '/'.
        let (cred, host_part) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let (host_db, query) = host_part.split_once('?').unwrap_or((host_part, ""));
        // Shown: host, port and database; never the user or password.
        let shown = format!("{scheme}://{host_db}");
        let mut kept = vec![];
        let mut root_cert = None;
        let mut mode_given = false;
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "sslrootcert" => root_cert = Some(PathBuf::from(v)),
                "sslmode" => {
                    mode_given = true;
                    let mode = match v {
                        "disable" | "prefer" | "require" => v,
                        // Certificates are always verified when TLS is used.
                        "verify-ca" | "verify-full" => "require",
                        _ => {
                            return Err(format!(
                                "journal {shown}: sslmode '{v}' is not one of disable, prefer, \
                                 require, verify-ca, verify-full"
                            ))
                        }
                    };
                    kept.push(format!("sslmode={mode}"));
                }
                _ => kept.push(kv.to_string()),
            }
        }
        // Without an sslmode, a database off this machine is reached over verified TLS only
        // (libpq's default, `prefer`, lets an active attacker downgrade to plaintext).
        if !mode_given && !is_loopback(host_db) {
            kept.push("sslmode=require".into());
        }
        let base = match cred {
            Some(c) => format!("{c}@{host_db}"),
            None => host_db.to_string(),
        };
        let url = match kept.is_empty() {
            true => format!("{scheme}://{base}"),
            false => format!("{scheme}://{base}?{}", kept.join("&")),
        };
        let mut config = postgres::Config::from_str(&url).map_err(|e| {
            format!("journal {shown}: not a usable PostgreSQL URL ({e}); the form is postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full")
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        // A half-open connection (a machine or network gone) fails within about a minute
        // instead of holding this worker's claims and locks for the kernel's two hours.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.tcp_user_timeout(Duration::from_secs(60));
        if config.get_application_name().is_none() {
            config.application_name("zkinfer oracle");
        }
        Ok(Location::Postgres(Box::new(PgTarget {
            config,
            root_cert,
            shown,
        })))
    }

    /// Whether this is a PostgreSQL journal (shared by many workers).
    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }
}

/// Whether a URL's `HOST[:PORT][/DB]` names this machine (or a Unix socket).
fn is_loopback(host_db: &str) -> bool {
    let host = host_db.split('/').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    matches!(host, "" | "localhost" | "127.0.0.1" | "::1")
        || host.starts_with("%2f")
        || host.starts_with("%2F")
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(t) => f.write_str(&t.shown),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Location({self})")
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Self {
        Location::Sqlite(p.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Self {
        Location::Sqlite(p.clone())
    }
}

impl From<&Location> for Location {
    fn from(l: &Location) -> Self {
        l.clone()
    }
}

/// Connects to a PostgreSQL journal, with TLS as its URL asks.
pub(crate) fn connect_pg(t: &PgTarget) -> Result<postgres::Client, String> {
    let mut tls = native_tls::TlsConnector::builder();
    if let Some(ca) = &t.root_cert {
        // As libpq: the given CA replaces the system's roots.
        tls.disable_built_in_roots(true);
        let pem = std::fs::read(ca).map_err(|e| format!("sslrootcert {}: {e}", ca.display()))?;
        let cert = native_tls::Certificate::from_pem(&pem)
            .map_err(|e| format!("sslrootcert {}: not a PEM certificate ({e})", ca.display()))?;
        tls.add_root_certificate(cert);
    }
    let tls = tls.build().map_err(|e| format!("TLS: {e}"))?;
    let tls = postgres_native_tls::MakeTlsConnector::new(tls);
    blocking(|| t.config.connect(tls)).map_err(|e| format!("connecting: {}", pg_error(&e)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials_and_sslmode_is_checked() {
        let l =
            Location::parse("postgres://alice:s3cret@db.example:5433/journal?sslmode=verify-full")
                .unwrap();
        assert!(l.is_shared());
        assert_eq!(l.to_string(), "postgres://db.example:5433/journal");
        assert!(!format!("{l:?}").contains("s3cret"));
        let e = Location::parse("postgresql://u:s3cret@h/d?sslmode=allowed").unwrap_err();
        assert!(e.contains("sslmode") && !e.contains("s3cret"), "{e}");
        let e = Location::parse("postgres://u:s3cret@h:notaport/d").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        // An unescaped '?' or '@' in the password does not leak into what is shown.
        let l = Location::parse("postgres://u:pa?ss@w0rd@db:5432/j").unwrap();
        assert_eq!(l.to_string(), "postgres://db:5432/j");
        // Other schemes and libpq's key=value strings are refused without being quoted.
        for bad in [
            "postgress://u:s3cret@h/d",
            "host=h user=u password=s3cret dbname=d",
            "mysql://u:s3cret@h/d",
        ] {
            let e = Location::parse(bad).unwrap_err();
            assert!(!e.contains("s3cret") && e.contains("--journal"), "{e}");
        }
        assert!(!Location::parse("journal.sqlite").unwrap().is_shared());
    }

    #[test]
    fn databases_off_this_machine_default_to_verified_tls() {
        let mode = |u: &str| match Location::parse(u).unwrap() {
            Location::Postgres(t) => t.config.get_ssl_mode(),
            Location::Sqlite(_) => unreachable!(),
        };
        use postgres::config::SslMode;
        assert_eq!(mode("postgres://u:p@db.example/j"), SslMode::Require);
        assert_eq!(mode("postgres://u:p@127.0.0.1:5432/j"), SslMode::Prefer);
        assert_eq!(mode("postgres://u:p@[::1]:5432/j"), SslMode::Prefer);
        assert_eq!(mode("postgres://u:p@localhost/j"), SslMode::Prefer);
        assert_eq!(
            mode("postgres://u:p@db.example/j?sslmode=disable"),
            SslMode::Disable
        );
    }
}
