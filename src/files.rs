//! File helpers every stage uses: errors that name the file, atomic writes (a reader never
//! sees a half-written file), JSON reads, and the one hex parser. A leaf: it imports nothing
//! from the crate.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Serialize};

/// Errors reading or writing files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is not what zkinfer expects.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes pretty JSON atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    write_atomic(path, &json_bytes(value)?)
}

/// The bytes [`write_json_atomic`] writes: pretty JSON and a newline.
pub fn json_bytes<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    s.push(b'\n');
    Ok(s)
}

/// Reads JSON, or `None` when the file does not exist.
pub fn read_json_opt<T: DeserializeOwned>(path: &Path) -> std::result::Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Reads and parses a JSON artifact, naming the file in errors.
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        reason: format!("not a valid {what}: {e}"),
    })
}

/// Decodes `0x`-prefixed (or bare) hex: zkinfer's one hex parser (bytes of any length here,
/// 32-byte words in [`decode_word`]).
pub fn decode_hex(s: &str) -> std::result::Result<Vec<u8>, String> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("not hex: {e}"))
}

/// Decodes a 32-byte big-endian word from `0x`-prefixed (or bare) hex of 1 to 64 digits,
/// left-padded with zeros (a commitment, a salt).
pub fn decode_word(s: &str) -> std::result::Result<[u8; 32], String> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.is_empty() || h.len() > 64 {
        return Err("expected 1 to 64 hex digits".into());
    }
    let b = decode_hex(&format!("{h:0>64}"))?;
    b.try_into().map_err(|_| "expected 32 bytes".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_left_padded() {
        let w = decode_word("0x1f").expect("word");
        assert_eq!(w[31], 0x1f);
        assert!(w[..31].iter().all(|&b| b == 0));
        assert_eq!(decode_word(&"ab".repeat(32)).expect("word"), [0xab; 32]);
        assert_eq!(
            decode_word("0x123").expect("odd length")[30..],
            [0x01, 0x23]
        );
        for bad in ["", "0x", "0xzz", &"1".repeat(65)] {
            assert!(decode_word(bad).is_err(), "{bad}");
        }
    }
}
