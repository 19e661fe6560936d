//! Test helpers shared by the workspace's test suites.
//!
//! - [`logs`]: every test process writes its tracing output, at TRACE level, to a file under
//!   `target/test-logs/`, and registers each secret value it uses. `cargo xtask ci` scans all
//!   those log files for all registered secrets after the tests ran (the secret scan).
//! - [`workspace_root`] and [`tools_dir`]: where the workspace and the installed test tools
//!   (`.tools/`, filled by `cargo xtask ci`) live.
//! - [`postgres`]: a throw-away PostgreSQL server from the distribution's packages, one per
//!   test process, a database per test.

pub mod logs;
pub mod postgres;

use std::path::{Path, PathBuf};

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
///
/// The script and the shared modules of `tools/node/lib/` are copied next to `node_modules`
/// so their imports resolve there; each file is written under a temporary name and renamed, so
/// a script another test is starting never reads half a file.
pub fn node_script(script: &str) -> std::process::Command {
    let dir = tools_dir().join("node");
    assert!(
        dir.join("node_modules").is_dir(),
        "{} is missing: run `cargo xtask ci` (it installs the pinned npm packages of tools/node)",
        dir.join("node_modules").display()
    );
    let src = workspace_root().join("tools").join("node");
    copy_node_lib(&src.join("lib"), &dir.join("lib"));
    let dst = dir.join(script);
    copy_atomically(&src.join(script), &dst);
    let mut cmd = std::process::Command::new("node");
    cmd.arg(dst);
    cmd
}

/// Copies the shared modules once per process.
fn copy_node_lib(src: &Path, dst: &Path) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = std::fs::read_dir(src) else {
            return;
        };
        if let Err(e) = std::fs::create_dir_all(dst) {
            panic!("cannot create {}: {e}", dst.display());
        }
        for entry in entries.flatten() {
            copy_atomically(&entry.path(), &dst.join(entry.file_name()));
        }
    });
}

fn copy_atomically(from: &Path, to: &Path) {
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = to.with_file_name(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    if let Err(e) = std::fs::copy(from, &tmp).and_then(|_| std::fs::rename(&tmp, to)) {
        panic!("cannot copy {} to {}: {e}", from.display(), to.display());
    }
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
