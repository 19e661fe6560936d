//! Test helpers shared by the workspace's test suites.
//!
//! - [`logs`]: every test process writes its tracing output, at TRACE level, to a file under
//!   `target/test-logs/`, and registers each secret value it uses. `cargo xtask ci` scans all
//!   those log files for all registered secrets after the tests ran (the secret scan).
//! - [`workspace_root`] and [`tools_dir`]: where the workspace and the installed test tools
//!   (`.tools/`, filled by `cargo xtask ci`) live.

pub mod logs;

use std::path::PathBuf;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(here)
}

/// Where `cargo xtask ci` installs test tools (node packages, Python venv): `<root>/.tools`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("BRIDGE_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools"))
}

/// The `node_modules` folder of the installed test tools, if `cargo xtask ci` installed them.
pub fn node_modules() -> Option<PathBuf> {
    let dir = tools_dir().join("node").join("node_modules");
    dir.is_dir().then_some(dir)
}
