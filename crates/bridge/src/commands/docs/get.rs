//! `bridge docs get ID [-o FILE]`: the document's metadata first (`GET
//! /catalog/Documents(<ID>)`: its `fileName`, `size` and `sha256`), then its content streamed
//! into a temporary file beside the target, hashed while it is written, and renamed into place
//! only when size and SHA-256 match; on a mismatch, a failure or Ctrl-C the partial file is
//! removed. Without `-o` the target is the document's base name in the current directory
//! (never a path elsewhere, never `..`, and an existing file is not overwritten).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget};
use reqwest::Method;
use tokio::io::AsyncWriteExt as _;

use super::api::{Api, Needs};
use super::upload::{hex, shown, style};

/// A download that moves no byte for this long is given up.
const IDLE: Duration = Duration::from_secs(120);

/// Arguments of `bridge docs get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The document.
    #[arg(value_name = "ID", value_parser = super::document_id)]
    pub id: String,
    /// Where to write it: a file (replaced if it exists) or an existing directory; default:
    /// the document's file name in the current directory, which must not exist yet.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `bridge docs get`.
#[allow(clippy::print_stdout)]
pub(super) async fn run(api: &Api, args: GetArgs) -> ExitCode {
    match download(api, &args).await {
        Ok((size, sha256, target)) => {
            println!("{}  {size}  {sha256}  {}", args.id, target.display());
            ExitCode::SUCCESS
        }
        Err(e) => crate::commands::fail(&e),
    }
}

async fn download(api: &Api, args: &GetArgs) -> anyhow::Result<(u64, String, PathBuf)> {
    let id = &args.id;
    let meta = api
        .get_json(
            &api.url(&Api::document_path(id)),
            &format!("cannot read document {id}"),
        )
        .await?;
    let status = meta["status"].as_str().unwrap_or("unknown");
    let Some(expected) = meta["sha256"]
        .as_str()
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
    else {
        anyhow::bail!("document {id} has no content yet (status {status})");
    };
    let size = meta["size"].as_u64();
    let file_name = meta["fileName"].as_str().unwrap_or_default();
    let target = target(args.output.as_deref(), file_name)?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let temp = dir.join(format!(".{base}.{}.part", &suffix[..12]));
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .await
        .map_err(|e| {
            anyhow!(
                "cannot write into {}: {}",
                dir.display(),
                super::io_reason(&e)
            )
        })?;
    let bar = ProgressBar::with_draw_target(size, ProgressDrawTarget::stderr())
        .with_style(style(
            "{prefix:32} [{bar:30}] {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} ETA {eta}",
        ))
        .with_prefix(shown(&base));
    let outcome = tokio::select! {
        r = fetch(api, id, file, &bar) => r,
        () = crate::commands::shutdown_signal() => Err(anyhow!("interrupted")),
    };
    bar.finish_and_clear();
    let result = outcome.and_then(|(received, digest)| {
        if size.is_some_and(|s| s != received) {
            anyhow::bail!(
                "document {id}: {received} bytes received, but its size is {}",
                size.unwrap_or_default()
            );
        }
        if digest != expected {
            anyhow::bail!(
                "document {id}: SHA-256 mismatch: the document's is {expected}, the bytes \
                 received hash to {digest}"
            );
        }
        Ok((received, digest))
    });
    match result {
        Ok((received, digest)) => {
            if let Err(e) = tokio::fs::rename(&temp, &target).await {
                let _ = tokio::fs::remove_file(&temp).await;
                anyhow::bail!(
                    "cannot write {}: {}",
                    target.display(),
                    super::io_reason(&e)
                );
            }
            Ok((received, digest, target))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&temp).await;
            Err(anyhow!(
                "{} (the partial file was removed)",
                crate::commands::describe(&e)
            ))
        }
    }
}

/// Streams the content into `file`: `(bytes, lower-case hex SHA-256)`.
async fn fetch(
    api: &Api,
    id: &str,
    mut file: tokio::fs::File,
    bar: &ProgressBar,
) -> anyhow::Result<(u64, String)> {
    let url = api.url(&format!("{}/content", Api::document_path(id)));
    let request = api.request(Method::GET, &url);
    let mut resp = api
        .send(
            request,
            &format!("cannot download document {id}"),
            Needs::Read,
        )
        .await?;
    if let Some(len) = resp.content_length() {
        bar.set_length(len);
    }
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut received = 0u64;
    loop {
        let chunk = tokio::time::timeout(IDLE, resp.chunk())
            .await
            .map_err(|_| anyhow!("document {id}: no byte for {} s", IDLE.as_secs()))?
            .map_err(|e| {
                anyhow!(
                    "document {id}: the download broke off: {}",
                    cfenv::text::root_cause(&e)
                )
            })?;
        let Some(chunk) = chunk else { break };
        ctx.update(&chunk);
        file.write_all(&chunk)
            .await
            .context("cannot write the file")?;
        let n = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        received = received.saturating_add(n);
        bar.inc(n);
    }
    file.flush().await.context("cannot write the file")?;
    file.sync_all().await.context("cannot write the file")?;
    Ok((received, hex(ctx.finish().as_ref())))
}

/// Where the document goes: `-o` as given (an existing directory: the document's name in
/// it), else the document's base name in the current directory.
fn target(output: Option<&Path>, file_name: &str) -> anyhow::Result<PathBuf> {
    match output {
        Some(dir) if dir.is_dir() => {
            let path = dir.join(safe_name(file_name)?);
            refuse_existing(&path)?;
            Ok(path)
        }
        Some(path) => Ok(path.to_path_buf()),
        None => {
            let path = PathBuf::from(safe_name(file_name)?);
            refuse_existing(&path)?;
            Ok(path)
        }
    }
}

fn refuse_existing(path: &Path) -> anyhow::Result<()> {
    if path.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{} exists: give -o FILE to replace it or to write elsewhere",
            path.display()
        );
    }
    Ok(())
}

/// The base name of the document's `fileName`, if it is a safe name for a file in one
/// directory: no `..` anywhere, no control characters, not empty.
fn safe_name(file_name: &str) -> anyhow::Result<String> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let unsafe_name = base.is_empty()
        || base == "."
        || file_name.split(['/', '\\']).any(|s| s == "..")
        || file_name.chars().any(char::is_control);
    if unsafe_name {
        anyhow::bail!(
            "the document's file name {:?} is not a safe name for a file here: give -o FILE",
            cfenv::text::cut(
                file_name,
                100,
                cfenv::text::Controls::Drop,
                cfenv::text::Ellipsis::WhenCut
            )
        );
    }
    Ok(base.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_a_base_name_without_dot_dot_is_written() {
        assert_eq!(safe_name("report.pdf").unwrap(), "report.pdf");
        assert_eq!(safe_name("dir/sub/report.pdf").unwrap(), "report.pdf");
        assert_eq!(safe_name("C:\\tmp\\a.txt").unwrap(), "a.txt");
        for bad in ["", ".", "..", "../x", "a/../b", "dir/", "a\u{0}b", "x\n"] {
            assert!(safe_name(bad).is_err(), "{bad:?}");
        }
    }
}
