//! Finding the external tools (solc, anvil): an environment variable, then the project's
//! `.tools/bin` (installed by `scripts/setup.sh`), then `PATH`.

use std::path::{Path, PathBuf};

/// A tool could not be found.
#[derive(Debug, thiserror::Error)]
#[error("{tool} not found (looked at ${env}, {local}, and PATH); install it with `{setup}` or set {env} to its path")]
pub struct Error {
    /// The tool's name.
    pub tool: &'static str,
    /// The environment variable that overrides it.
    pub env: &'static str,
    /// The project-local folder searched.
    pub local: String,
    /// The install command.
    pub setup: String,
}

/// The repository zkinfer was built from (holds `scripts/setup.sh` and `.tools/`).
pub fn project_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The project-local tools folder.
pub fn local_bin() -> PathBuf {
    project_root().join(".tools").join("bin")
}

/// The setup script that installs the tools.
pub fn setup_script() -> PathBuf {
    project_root().join("scripts").join("setup.sh")
}

fn find(tool: &'static str, env: &'static str) -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
    }
    let local = local_bin().join(tool);
    if local.is_file() {
        return Ok(local);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(tool);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(Error {
        tool,
        env,
        local: local_bin().display().to_string(),
        setup: format!("bash {}", setup_script().display()),
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
