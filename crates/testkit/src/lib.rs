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

/// A `node` command running `tools/node/<script>` with the pinned npm packages that
/// `cargo xtask ci` installed into `.tools/node`. Panics with instructions if they are missing:
/// a test that needs a third-party client must fail, not skip, without it.
pub fn node_script(script: &str) -> std::process::Command {
    let dir = tools_dir().join("node");
    assert!(
        dir.join("node_modules").is_dir(),
        "{} is missing: run `cargo xtask ci` (it installs the pinned npm packages of tools/node)",
        dir.join("node_modules").display()
    );
    // Copy the script next to node_modules so its imports resolve there.
    let src = workspace_root().join("tools").join("node").join(script);
    let dst = dir.join(script);
    if let Err(e) = std::fs::copy(&src, &dst) {
        panic!("cannot copy {} to {}: {e}", src.display(), dst.display());
    }
    let mut cmd = std::process::Command::new("node");
    cmd.arg(dst);
    cmd
}

/// A program of the Python tools venv that `cargo xtask ci` installs into `.tools/python`
/// (`aws`, `python`, `moto_server`). Panics with instructions if it is missing: a test that
/// needs a third-party client must fail, not skip, without it.
pub fn python_bin(name: &str) -> PathBuf {
    let path = tools_dir().join("python").join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask install` (or `cargo xtask ci`), which installs the pinned \
         tools/python/requirements.txt",
        path.display()
    );
    path
}
