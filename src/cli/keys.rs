//! Where the sender's key comes from: `ZKINFER_PRIVATE_KEY` (or `--private-key`, with a
//! warning: a flag is visible to every local user in the process list), or an encrypted JSON
//! keystore (`--keystore FILE`, password from `ZKINFER_KEYSTORE_PASSWORD` or a prompt), as
//! foundry does. Never printed or logged.

use std::path::PathBuf;

use clap::Args;
use zkinfer::chain::{Chain, Signer};

/// The sender's key.
#[derive(Args, Clone, Default)]
pub struct KeyArgs {
    /// Hex private key of the sender. Prefer ZKINFER_PRIVATE_KEY or --keystore: a key given as
    /// a flag is visible to every local user in the process list. Never printed.
    #[arg(long, env = "ZKINFER_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// An encrypted JSON keystore holding the sender's key (geth's format, as `cast wallet
    /// import` writes it); the password comes from ZKINFER_KEYSTORE_PASSWORD or a prompt.
    /// Takes precedence over a private key.
    #[arg(long, env = "ZKINFER_KEYSTORE", value_name = "FILE")]
    pub keystore: Option<PathBuf>,
}

impl KeyArgs {
    /// The signer, if a key or keystore was given.
    pub fn signer(&self) -> anyhow::Result<Option<Signer>> {
        if let Some(path) = &self.keystore {
            let password = match std::env::var("ZKINFER_KEYSTORE_PASSWORD") {
                Ok(p) => p,
                Err(_) => rpassword::prompt_password(format!(
                    "password of keystore {}: ",
                    path.display()
                ))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "--keystore {}: cannot read a password from the terminal ({e}); set ZKINFER_KEYSTORE_PASSWORD",
                        path.display()
                    )
                })?,
            };
            return Ok(Some(Signer::from_keystore(path, &password)?));
        }
        let Some(key) = &self.private_key else {
            return Ok(None);
        };
        if flag_given("--private-key") {
            eprintln!("warning: --private-key is visible to every local user in the process list (ps); prefer ZKINFER_PRIVATE_KEY or --keystore FILE");
        }
        Ok(Some(Signer::from_hex(key)?))
    }

    /// Connects to `url` with the signer, if any.
    pub async fn connect(&self, url: &str) -> anyhow::Result<Chain> {
        let signer = self.signer()?;
        Ok(Chain::connect_with(url, signer.as_ref()).await?)
    }
}

/// Whether `flag` was given on the command line (not from the environment).
fn flag_given(flag: &str) -> bool {
    std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        a == flag || a.starts_with(&format!("{flag}="))
    })
}
