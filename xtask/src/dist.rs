//! The release artifacts, checked rather than hoped for.
//!
//! `cargo xtask dist` builds `dist/cf/bridge`, what `deploy/btp/manifest.yml` and `mta.yaml`
//! push with the binary buildpack: `bridge` in release mode **without** the default `dev`
//! feature, so it carries no dev stack. Then it checks, and fails on any miss:
//!
//! - **no dev stack**: `bridge --help` names neither `dev` nor `rotate-keys`, and `bridge dev`
//!   is refused as an unknown subcommand (exit 2) ([`check_no_dev_stack`]);
//! - **runs where it is deployed**: the highest GLIBC symbol version the binary needs is at
//!   most 2.34, the glibc of AWS's `provided.al2023` runtime and below Cloud Foundry's
//!   `cflinuxfs4` (Ubuntu 22.04, glibc 2.35) ([`highest_glibc`], from `readelf -V`);
//! - **starts from the bindings alone**: against a `bridge dev` stack on ephemeral ports (its
//!   generated `VCAP_SERVICES` file and CA), `dist/cf/bridge serve` answers `/health` and
//!   `/health/ready` with 200, the latter after a real AssumeRole ([`smoke`]);
//!
//! and prints the GLIBC version, the size and the start-up time. The symbols are stripped by
//! the release profile (`strip = "symbols"`).
//!
//! `cargo xtask ci` runs the first two checks on a debug build without `dev` (cheap: the
//! workspace build already holds every dependency with the same features, see `bridge`'s
//! manifest), so a change that pulls the dev stack or a newer glibc into the deployed binary
//! fails the test command.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The newest glibc the deployed binary may need: `provided.al2023` ships 2.34.
pub(crate) const MAX_GLIBC: (u32, u32) = (2, 34);

/// `cargo xtask dist`.
#[allow(clippy::print_stdout)]
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let t = crate::step("cargo build --release -p bridge --no-default-features");
    crate::cargo(
        root,
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "bridge",
            "--no-default-features",
        ],
    )?;
    crate::done("release build", t);
    let out_dir = root.join("dist").join("cf");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let binary = out_dir.join("bridge");
    copy_executable(&root.join("target/release/bridge"), &binary)?;
    let glibc = check_binary(&binary)?;
    let size = std::fs::metadata(&binary)?.len();

    // The smoke test needs a dev stack: the default (dev) build of the same sources.
    let t = crate::step("cargo build -p bridge (for the dev stack of the smoke test)");
    crate::cargo(root, &["build", "--locked", "-p", "bridge"])?;
    crate::done("dev build", t);
    let startup = smoke(root, &root.join("target/debug/bridge"), &binary)?;
    let t = crate::step("cargo build --release -p caller (dist/aws/bootstrap.zip)");
    let (lambda_glibc, lambda_size, lambda_zipped) = lambda_zip(root)?;
    crate::done("Lambda zip", t);

    println!();
    println!("dist/aws/bootstrap.zip (the caller Lambda, provided.al2023, bootstrap at the root)");
    println!(
        "  highest GLIBC:       {}.{} (limit {}.{})",
        lambda_glibc.0, lambda_glibc.1, MAX_GLIBC.0, MAX_GLIBC.1
    );
    println!(
        "  size:                {:.1} MiB binary, {:.1} MiB zipped",
        lambda_size as f64 / 1024.0 / 1024.0,
        lambda_zipped as f64 / 1024.0 / 1024.0
    );
    println!();
    println!("dist/cf/bridge");
    println!("  no dev stack:        dev and rotate-keys absent, `bridge dev` refused");
    println!(
        "  highest GLIBC:       {}.{} (limit {}.{}: provided.al2023; cflinuxfs4 has 2.35)",
        glibc.0, glibc.1, MAX_GLIBC.0, MAX_GLIBC.1
    );
    println!(
        "  size:                {:.1} MiB ({size} bytes, symbols stripped)",
        size as f64 / 1024.0 / 1024.0
    );
    println!(
        "  first /health 200:   {:.0} ms after spawn; /health/ready 200 from VCAP_SERVICES alone",
        startup.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// The checks `cargo xtask ci` runs on a debug build without `dev`: no dev stack, glibc.
#[allow(clippy::print_stdout)]
pub(crate) fn ci_check(root: &Path) -> anyhow::Result<()> {
    crate::cargo(
        root,
        &["build", "--locked", "-p", "bridge", "--no-default-features"],
    )?;
    // Keep a copy: the next build of `bridge` (with `dev`) writes the same path.
    let binary = root.join("target/cf-check/bridge");
    std::fs::create_dir_all(root.join("target/cf-check"))?;
    copy_executable(&root.join("target/debug/bridge"), &binary)?;
    let glibc = check_binary(&binary)?;
    println!(
        "bridge without dev: no dev commands, highest GLIBC {}.{} (limit {}.{})",
        glibc.0, glibc.1, MAX_GLIBC.0, MAX_GLIBC.1
    );
    Ok(())
}

/// The caller Lambda's `bootstrap` as `cargo build -p caller` makes it (the tests and `bridge
/// dev` run it), checked for `provided.al2023`'s glibc.
#[allow(clippy::print_stdout)]
pub(crate) fn ci_bootstrap(root: &Path) -> anyhow::Result<()> {
    crate::cargo(
        root,
        &["build", "--locked", "-p", "caller", "--bin", "bootstrap"],
    )?;
    let glibc = check_glibc(&root.join("target/debug/bootstrap"))?;
    println!(
        "caller bootstrap: highest GLIBC {}.{} (limit {}.{}, provided.al2023)",
        glibc.0, glibc.1, MAX_GLIBC.0, MAX_GLIBC.1
    );
    Ok(())
}

/// Where the Lambda function is built (see [`lambda_zip`]).
const LAMBDA_TARGET_DIR: &str = "target/lambda";

/// `dist/aws/bootstrap.zip`: the release `bootstrap` at the root of a zip, as Lambda's
/// `provided.al2023` runtime runs it (executable bit kept); returns its GLIBC and the sizes.
fn lambda_zip(root: &Path) -> anyhow::Result<((u32, u32), u64, u64)> {
    // Without aws-lc's CPU Jitter Entropy source: its one-time seeding costs a new process
    // about 40 ms of CPU before the first random number (measured with
    // `cargo bench -p devstack --bench lambda_init` and perf), most of a cold start. The
    // kernel's getrandom (and RDRAND where present) remain the sources, as the aws-lc-rs
    // book's "Entropy configuration" describes and aws/aws-lambda-rust-runtime#1101
    // recommends for Lambda. Only the function is built so; the app keeps the default. Its
    // own target directory, so the flag never flips aws-lc-sys in `target/release`.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run(
        Command::new(cargo)
            .args([
                "build",
                "--release",
                "--locked",
                "-p",
                "caller",
                "--bin",
                "bootstrap",
            ])
            .env("AWS_LC_SYS_NO_JITTER_ENTROPY", "1")
            .env("CARGO_TARGET_DIR", root.join(LAMBDA_TARGET_DIR))
            .current_dir(root),
    )?;
    let out_dir = root.join("dist").join("aws");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let binary = out_dir.join("bootstrap");
    copy_executable(
        &root.join(LAMBDA_TARGET_DIR).join("release/bootstrap"),
        &binary,
    )?;
    let glibc = check_glibc(&binary)?;
    let bytes = std::fs::read(&binary)?;
    let zip_path = out_dir.join("bootstrap.zip");
    let tmp = zip_path.with_extension("tmp");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options)?;
    std::io::Write::write_all(&mut zip, &bytes)?;
    zip.finish()?;
    std::fs::rename(&tmp, &zip_path)?;
    let zipped = std::fs::metadata(&zip_path)?.len();
    Ok((glibc, bytes.len() as u64, zipped))
}

fn copy_executable(from: &Path, to: &Path) -> anyhow::Result<()> {
    // Copy to a temporary name and rename, so a running copy is never overwritten in place.
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp)
        .with_context(|| format!("cannot copy {} to {}", from.display(), tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(())
}

/// No dev stack and a glibc the platforms have; returns the highest GLIBC version needed.
fn check_binary(binary: &Path) -> anyhow::Result<(u32, u32)> {
    check_no_dev_stack(binary)?;
    check_glibc(binary)
}

/// The highest GLIBC version `binary` needs, refused above [`MAX_GLIBC`].
fn check_glibc(binary: &Path) -> anyhow::Result<(u32, u32)> {
    let out = Command::new("readelf")
        .arg("-V")
        .arg(binary)
        .output()
        .context("cannot run readelf (Debian's binutils)")?;
    if !out.status.success() {
        bail!("readelf -V {} failed", binary.display());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(glibc) = highest_glibc(&text) else {
        bail!("{}: no GLIBC symbol versions found", binary.display());
    };
    glibc_allowed(glibc)?;
    Ok(glibc)
}

/// The highest `GLIBC_x.y[.z]` in `readelf -V` output (major, minor).
pub(crate) fn highest_glibc(readelf: &str) -> Option<(u32, u32)> {
    readelf
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            Some((major, minor))
        })
        .max()
}

/// Fails when `glibc` is newer than [`MAX_GLIBC`].
pub(crate) fn glibc_allowed(glibc: (u32, u32)) -> anyhow::Result<()> {
    if glibc > MAX_GLIBC {
        bail!(
            "the binary needs GLIBC {}.{}, newer than {}.{} (AWS provided.al2023): find the \
             dependency that raised it, or build with cargo-zigbuild for an older glibc",
            glibc.0,
            glibc.1,
            MAX_GLIBC.0,
            MAX_GLIBC.1
        );
    }
    Ok(())
}

/// The deployed binary has no `dev` or `rotate-keys` subcommand.
fn check_no_dev_stack(binary: &Path) -> anyhow::Result<()> {
    let help = Command::new(binary)
        .arg("--help")
        .env_clear()
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let help = String::from_utf8_lossy(&help.stdout);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    if !commands.contains(&"serve") {
        bail!("{}: `--help` lists no `serve`: {help}", binary.display());
    }
    if let Some(dev) = commands
        .iter()
        .find(|c| **c == "dev" || **c == "rotate-keys")
    {
        bail!(
            "{}: the deployed build has the dev command `{dev}`",
            binary.display()
        );
    }
    let dev = Command::new(binary)
        .arg("dev")
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if dev.code() != Some(2) {
        bail!(
            "{}: `bridge dev` was not refused as unknown (exit {dev})",
            binary.display()
        );
    }
    Ok(())
}

/// Kills a child process when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a dev stack with `dev_binary` on ephemeral ports, then `binary serve` from its
/// `VCAP_SERVICES` file and CA alone; returns the time to the first `/health` 200.
fn smoke(root: &Path, dev_binary: &Path, binary: &Path) -> anyhow::Result<Duration> {
    let data = root.join("target").join("dist-smoke");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    let mut dev_cmd = Command::new(dev_binary);
    dev_cmd
        .args(["dev", "--data-dir"])
        .arg(&data)
        .args([
            "--app-port",
            "0",
            "--credstore-port",
            "0",
            "--xsuaa-port",
            "0",
            "--sts-port",
            "0",
            "--s3-port",
            "0",
            "--alerts-port",
            "0",
            "--no-schedules",
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let _dev = Child(dev_cmd.spawn().context("cannot start bridge dev")?);
    let vcap = data.join("vcap-services.json");
    wait_for(Duration::from_secs(120), || vcap.exists())
        .context("bridge dev wrote no vcap-services.json")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let started = Instant::now();
    let mut serve_cmd = Command::new(binary);
    serve_cmd
        .args(["serve", "--port", &port.to_string()])
        .env_clear()
        .env("VCAP_SERVICES_FILE_PATH", &vcap)
        .env("BRIDGE_EXTRA_CA_CERTS", data.join("ca.pem"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let _serve = Child(
        serve_cmd
            .spawn()
            .context("cannot start dist/cf/bridge serve")?,
    );
    wait_for(Duration::from_secs(30), || {
        get(port, "/health").is_some_and(|s| s == 200)
    })
    .context("dist/cf/bridge serve never answered /health with 200")?;
    let first_200 = started.elapsed();
    let mut ready = None;
    wait_for(Duration::from_secs(60), || {
        ready = get(port, "/health/ready");
        ready == Some(200)
    })
    .with_context(|| format!("/health/ready never 200 (last: {ready:?})"))?;
    Ok(first_200)
}

fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("timed out after {limit:?}")
}

/// The status of one plain-HTTP GET on loopback, if any answer came.
fn get(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const READELF: &str = "Version needs section '.gnu.version_r' contains 2 entries:\n \
        Addr: 0x0000000000000000  Offset: 0x0001a8  Link: 7 (.dynstr)\n  \
        000000: Version: 1  File: libgcc_s.so.1  Cnt: 1\n  \
        0x0010:   Name: GCC_3.0  Flags: none  Version: 5\n  \
        0x0020: Version: 1  File: libc.so.6  Cnt: 4\n  \
        0x0030:   Name: GLIBC_2.3.4  Flags: none  Version: 9\n  \
        0x0040:   Name: GLIBC_2.34  Flags: none  Version: 8\n  \
        0x0050:   Name: GLIBC_2.17  Flags: none  Version: 7\n  \
        0x0060:   Name: GLIBC_2.2.5  Flags: none  Version: 2\n";

    #[test]
    fn the_highest_glibc_is_read_from_readelf() {
        assert_eq!(highest_glibc(READELF), Some((2, 34)));
        assert_eq!(highest_glibc("no versions here"), None);
        assert_eq!(
            highest_glibc("Name: GLIBC_2.9 Name: GLIBC_2.10 (GLIBC_2.4)"),
            Some((2, 10)),
            "numeric, not lexical"
        );
    }

    #[test]
    fn a_newer_glibc_fails_the_build() {
        assert!(glibc_allowed((2, 34)).is_ok());
        assert!(glibc_allowed((2, 17)).is_ok());
        let newer = READELF.replace("GLIBC_2.17", "GLIBC_2.35");
        let err = glibc_allowed(highest_glibc(&newer).unwrap()).unwrap_err();
        assert!(err.to_string().contains("GLIBC 2.35"), "{err}");
        assert!(glibc_allowed((3, 0)).is_err());
    }
}
