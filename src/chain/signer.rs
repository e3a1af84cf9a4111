//! Who signs: a key from the environment or a flag, or an encrypted JSON keystore (the format
//! geth, foundry's `cast wallet` and alloy write). The key is never printed or logged.

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;

use super::{Address, Error, Result};

/// A transaction signer.
#[derive(Clone)]
pub struct Signer(pub(crate) PrivateKeySigner);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({:#x})", self.0.address())
    }
}

impl Signer {
    /// A signer from a hex secp256k1 private key (`0x` optional).
    pub fn from_hex(key: &str) -> Result<Self> {
        key.trim().parse().map(Self).map_err(|_| {
            Error::Key("the private key is not a valid 32-byte hex secp256k1 key".into())
        })
    }

    /// A signer from an encrypted JSON keystore (scrypt or pbkdf2, as geth writes them).
    pub fn from_keystore(path: &Path, password: &str) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::Key(format!(
                "keystore {}: no such file (create one with `cast wallet import NAME --interactive` or geth)",
                path.display()
            )));
        }
        PrivateKeySigner::decrypt_keystore(path, password)
            .map(Self)
            .map_err(|e| {
                let why = e.to_string();
                let why = if why.contains("Mac Mismatch") {
                    "wrong password".to_string()
                } else {
                    why
                };
                Error::Key(format!(
                    "keystore {}: cannot decrypt it ({why}); check the password (ZKINFER_KEYSTORE_PASSWORD or the prompt)",
                    path.display()
                ))
            })
    }

    /// Writes `self` to a new encrypted keystore file in `dir` (for tests and key setup).
    pub fn to_keystore(&self, dir: &Path, name: &str, password: &str) -> Result<()> {
        let mut rng = rand::rngs::OsRng;
        PrivateKeySigner::encrypt_keystore(dir, &mut rng, self.0.to_bytes(), password, Some(name))
            .map(|_| ())
            .map_err(|e| {
                Error::Key(format!(
                    "writing keystore {}: {e}",
                    dir.join(name).display()
                ))
            })
    }

    /// The signer's address.
    pub fn address(&self) -> Address {
        self.0.address()
    }
}
