//! Installs the third-party clients the tests run against, pinned, into the ignored `.tools/`
//! folder, and only when something changed (a stamp file holds the lock file's content hash),
//! so a second run costs nothing and a first run is the same everywhere.
//!
//! - `tools/node/package.json` + `package-lock.json` → `.tools/node` via `npm ci`.
//! - Debian packages the tests need (`nodejs`/`npm` if absent) via `apt-get`, only when missing.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

/// Installs everything.
pub(crate) fn all(root: &Path) -> anyhow::Result<()> {
    debian(&[("node", "nodejs"), ("npm", "npm"), ("curl", "curl")])?;
    node(root)
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the Debian package of each missing command.
#[allow(clippy::print_stdout)]
fn debian(needs: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(cmd, _)| !have(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing Debian packages: {}", missing.join(" "));
    let sudo: &[&str] = if have("sudo") && !is_root() {
        &["sudo"]
    } else {
        &[]
    };
    let mut update = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        update.arg("apt-get");
    }
    crate::run(update.args(["update", "-qq"]))?;
    let mut install = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        install.arg("apt-get");
    }
    crate::run(
        install
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `npm ci` of `tools/node` into `.tools/node`, when its lock file changed.
#[allow(clippy::print_stdout)]
fn node(root: &Path) -> anyhow::Result<()> {
    let src = root.join("tools").join("node");
    let dst = root.join(".tools").join("node");
    std::fs::create_dir_all(&dst).with_context(|| format!("cannot create {}", dst.display()))?;
    let lock =
        std::fs::read(src.join("package-lock.json")).context("tools/node/package-lock.json")?;
    let manifest = std::fs::read(src.join("package.json")).context("tools/node/package.json")?;
    let stamp = format!("{:016x}", fnv1a(&[&lock[..], &manifest[..]].concat()));
    let stamp_file = dst.join(".installed");
    if dst.join("node_modules").is_dir()
        && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s.trim() == stamp)
    {
        println!("npm packages up to date in {}", dst.display());
        return Ok(());
    }
    std::fs::write(dst.join("package-lock.json"), &lock)?;
    std::fs::write(dst.join("package.json"), &manifest)?;
    crate::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dst),
    )?;
    if !dst.join("node_modules").is_dir() {
        bail!("npm ci left no node_modules in {}", dst.display());
    }
    std::fs::write(&stamp_file, &stamp)?;
    Ok(())
}

/// FNV-1a, enough to notice a changed lock file (not a security boundary).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
