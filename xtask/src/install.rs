//! Installs the third-party clients the tests run against, pinned, into the ignored `.tools/`
//! folder, and only when something changed (a stamp file holds the lock file's content hash),
//! so a second run costs nothing and a first run is the same everywhere.
//!
//! - `tools/node/package.json` + `package-lock.json` → `.tools/node` via `npm ci`.
//! - `tools/python/requirements.txt` (every package pinned) → the venv `.tools/python` via
//!   `python3 -m venv` and `pip install -r`; the stamp also covers the interpreter's version, so
//!   a new `python3` on PATH gets a fresh venv.
//! - Debian packages the tests need (`nodejs`/`npm`, `curl`, `python3`, `python3-venv`, and
//!   `chromium` for the browser test, driven by the npm `playwright-core`) via `apt-get`, only
//!   when missing, and `postgresql` for the store tests (`testkit::postgres` runs the newest
//!   `/usr/lib/postgresql/*/bin/postgres`). Nothing downloads a browser of its own: `npm ci` runs with
//!   `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1`, and the browser test uses `/usr/bin/chromium`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

/// Installs everything.
pub(crate) fn all(root: &Path) -> anyhow::Result<()> {
    debian(&[
        ("node", "nodejs"),
        ("npm", "npm"),
        ("curl", "curl"),
        ("python3", "python3"),
        (CHROMIUM, "chromium"),
    ])?;
    if !have_postgres() {
        apt_install(&["postgresql"])?;
    }
    node(root)?;
    python(root)
}

/// Debian's browser, which the browser test (`tools/node/browser_index.mjs`) launches.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether a PostgreSQL server binary is installed where Debian puts it
/// (`/usr/lib/postgresql/<version>/bin/postgres`, any version).
fn have_postgres() -> bool {
    std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|dirs| {
        dirs.flatten()
            .any(|d| d.path().join("bin").join("postgres").is_file())
    })
}

/// Whether `cmd` (a command on PATH, or an absolute path to a file) is there.
fn have(cmd: &str) -> bool {
    if cmd.starts_with('/') {
        return Path::new(cmd).is_file();
    }
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the Debian package of each missing command (or absolute path), in one `apt-get`.
fn debian(needs: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(cmd, _)| !have(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// `apt-get update` and `apt-get install` of `packages` (with sudo when not root).
#[allow(clippy::print_stdout)]
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    println!("installing Debian packages: {}", packages.join(" "));
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
            .args(packages)
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
            // playwright-core never downloads browsers; this keeps any other package from it.
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .current_dir(&dst),
    )?;
    if !dst.join("node_modules").is_dir() {
        bail!("npm ci left no node_modules in {}", dst.display());
    }
    std::fs::write(&stamp_file, &stamp)?;
    Ok(())
}

/// A venv in `.tools/python` with the pinned packages of `tools/python/requirements.txt`,
/// reinstalled when that file or the `python3` on PATH changed.
///
/// `python3` is whatever is first on PATH (on developer machines often a pyenv shim); the venv
/// remembers that interpreter, and the stamp its version.
#[allow(clippy::print_stdout)]
fn python(root: &Path) -> anyhow::Result<()> {
    let requirements_path = root.join("tools").join("python").join("requirements.txt");
    let requirements =
        std::fs::read(&requirements_path).context("tools/python/requirements.txt")?;
    let version = python_version("python3")?;
    let dst = root.join(".tools").join("python");
    let venv_python = dst.join("bin").join("python");
    let stamp = format!(
        "{:016x}",
        fnv1a(&[&requirements[..], version.as_bytes()].concat())
    );
    let stamp_file = dst.join(".installed");
    let venv_works = python_version(&venv_python.to_string_lossy()).is_ok_and(|v| v == version);
    if venv_works && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s.trim() == stamp) {
        println!("Python packages up to date in {}", dst.display());
        return Ok(());
    }
    if !venv_works {
        if dst.exists() {
            std::fs::remove_dir_all(&dst)
                .with_context(|| format!("cannot remove the stale venv {}", dst.display()))?;
        }
        // `python3 -m venv` needs ensurepip, which Debian ships separately.
        let has_ensurepip = Command::new("python3")
            .args(["-c", "import ensurepip"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_ensurepip {
            apt_install(&["python3-venv"])?;
        }
        println!("creating the Python venv {} ({version})", dst.display());
        crate::run(Command::new("python3").arg("-m").arg("venv").arg(&dst))?;
    }
    crate::run(
        Command::new(&venv_python)
            .args(["-m", "pip", "install", "--quiet", "--no-input"])
            .args(["--disable-pip-version-check", "-r"])
            .arg(&requirements_path),
    )?;
    if !dst.join("bin").join("moto_server").is_file() {
        bail!("pip install left no bin/moto_server in {}", dst.display());
    }
    std::fs::write(&stamp_file, &stamp)?;
    Ok(())
}

/// `Python 3.11.7` for the given interpreter.
fn python_version(python: &str) -> anyhow::Result<String> {
    let out = Command::new(python)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {python}"))?;
    if !out.status.success() {
        bail!("{python} --version failed");
    }
    // Old interpreters print the version on stderr.
    let text = [out.stdout, out.stderr].concat();
    Ok(String::from_utf8_lossy(&text).trim().to_owned())
}

/// FNV-1a, enough to notice a changed lock file (not a security boundary).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
