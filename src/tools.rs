//! Finding the external tools (solc, anvil) without the source tree baked into the binary: an
//! installed `zkinfer` looks, in order, at
//!
//! 1. `ZKINFER_SOLC` / `ZKINFER_ANVIL` (the tool's file);
//! 2. `ZKINFER_TOOLS` (a directory holding `solc` and `anvil`);
//! 3. `.tools/bin` of the zkinfer checkout the executable was built in (a directory above the
//!    executable: what `scripts/setup.sh` installs, for `cargo run` and the tests; never one
//!    found from the working directory, which could plant a solc that writes a verifier
//!    accepting anything);
//! 4. `~/.zkinfer/bin`, the default tools directory of an installed zkinfer;
//! 5. `PATH`.

use std::path::{Path, PathBuf};

/// A tool could not be found.
#[derive(Debug, thiserror::Error)]
#[error("{tool} not found (looked at ${env}, $ZKINFER_TOOLS, .tools/bin of a zkinfer checkout, ~/.zkinfer/bin and PATH); {setup}")]
pub struct Error {
    /// The tool's name.
    pub tool: &'static str,
    /// The environment variable that overrides it.
    pub env: &'static str,
    /// What to do.
    pub setup: String,
}

/// The zkinfer checkout the executable sits in (`target/release/zkinfer` and the test
/// binaries): the first directory above it holding `scripts/setup.sh` and `Cargo.toml`.
pub fn checkout() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.parent()?
        .ancestors()
        .find(|d| d.join("scripts/setup.sh").is_file() && d.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
}

/// The setup script of the checkout, if zkinfer runs in one.
pub fn setup_script() -> Option<PathBuf> {
    checkout().map(|c| c.join("scripts").join("setup.sh"))
}

/// The directories searched for tools, in order (after the tool's own variable, before PATH).
pub fn tool_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![];
    if let Some(d) = std::env::var_os("ZKINFER_TOOLS").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    if let Some(c) = checkout() {
        dirs.push(c.join(".tools").join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        dirs.push(PathBuf::from(home).join(".zkinfer").join("bin"));
    }
    dirs
}

fn find(tool: &'static str, env: &'static str) -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
    }
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(p) = tool_dirs()
        .into_iter()
        .chain(path_dirs)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
    {
        return Ok(p);
    }
    Err(Error {
        tool,
        env,
        setup: match setup_script() {
            Some(s) => format!("install it with `bash {}`", s.display()),
            None => format!(
                "put {tool} in ~/.zkinfer/bin (or a directory named by ZKINFER_TOOLS), or set {env} to its path; a zkinfer checkout installs the pinned versions with `bash scripts/setup.sh`"
            ),
        },
    })
}

/// The solc to compile verifiers with.
pub fn solc() -> Result<PathBuf, Error> {
    find("solc", "ZKINFER_SOLC")
}

/// The anvil to start local chains with.
pub fn anvil() -> Result<PathBuf, Error> {
    find("anvil", "ZKINFER_ANVIL")
}
