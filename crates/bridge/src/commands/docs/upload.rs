//! `bridge docs upload FILE…`: per file, the SHA-256 in a first streaming pass, then
//! `POST /catalog/Documents` (the metadata) and `PUT /catalog/Documents(<ID>)/content` (the
//! bytes streamed from the file with `Content-Length`, `Content-Type` and RFC 9530's
//! `Content-Digest: sha-256=:<base64>:`, so the app keeps nothing that differs from the file).
//! Up to `--parallel` files at a time, a progress bar per file and one for the total on stderr
//! (drawn only on a terminal). A failed file is reported and the others go on; a document
//! created but not filled is deleted again, also on Ctrl-C; exit 1 if any file failed.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use futures::StreamExt as _;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

use super::api::{Api, Needs};

/// Bytes read from a file at a time.
const CHUNK: usize = 256 << 10;
/// Longest file name shown beside a progress bar.
const SHOWN_NAME: usize = 32;

/// The media type of a file by its extension (lower case); anything else is
/// `application/octet-stream`. The app decides what it accepts (`BRIDGE_DOCUMENT_MEDIA_TYPES`).
const MEDIA_TYPES: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("bmp", "image/bmp"),
    ("svg", "image/svg+xml"),
    ("heic", "image/heic"),
    ("txt", "text/plain"),
    ("text", "text/plain"),
    ("log", "text/plain"),
    ("csv", "text/csv"),
    ("md", "text/markdown"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("xml", "application/xml"),
    ("json", "application/json"),
    ("rtf", "application/rtf"),
    ("zip", "application/zip"),
    ("doc", "application/msword"),
    ("xls", "application/vnd.ms-excel"),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("odp", "application/vnd.oasis.opendocument.presentation"),
];

/// Arguments of `bridge docs upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The files to upload, each as a new document named by its base name.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// `documentNumber` of every document uploaded (the business object they belong to).
    #[arg(long, value_name = "N")]
    pub document_number: Option<String>,
    /// `location` of every document uploaded.
    #[arg(long, value_name = "L")]
    pub location: Option<String>,
    /// A business attribute of every document uploaded (repeatable): `--attr year=2026`.
    #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = attribute)]
    pub attrs: Vec<(String, String)>,
    /// The media type of every file; default: by each file's extension.
    #[arg(long, value_name = "TYPE", value_parser = media_type)]
    pub media_type: Option<String>,
    /// Upload up to N files at a time.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallel: u16,
}

/// `--attr KEY=VALUE`.
fn attribute(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((key, v)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), v.to_owned())),
        _ => Err(format!("--attr expects key=value, got {value:?}")),
    }
}

/// `--media-type type/subtype[; parameters]`.
fn media_type(value: &str) -> Result<String, String> {
    let essence = value.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((t, s)) if token(t) && token(s) => Ok(value.trim().to_owned()),
        _ => Err(format!(
            "--media-type expects a media type such as application/pdf, got {value:?}"
        )),
    }
}

/// The media type for `path` by its extension.
fn guess_media_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    MEDIA_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map_or("application/octet-stream", |(_, t)| t)
}

/// The usage checks, before anything is sent: attribute keys once each, and every file a
/// readable regular file with a UTF-8 name.
pub(super) fn check(args: &UploadArgs) -> anyhow::Result<()> {
    let mut keys = HashSet::new();
    for (key, _) in &args.attrs {
        if !keys.insert(key.as_str()) {
            anyhow::bail!("--attr: key {key:?} is given twice");
        }
    }
    for path in &args.files {
        super::regular_file(path)?;
        file_name(path)?;
        std::fs::File::open(path)
            .map_err(|e| anyhow!("{}: {}", path.display(), super::io_reason(&e)))?;
    }
    Ok(())
}

/// The document's `fileName`: the file's base name.
fn file_name(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{}: the file name is not UTF-8", path.display()))
}

/// An uploaded document.
struct Uploaded {
    id: String,
    size: u64,
    sha256_hex: String,
    file_name: String,
}

/// What every upload shares.
struct Shared<'a> {
    api: &'a Api,
    args: &'a UploadArgs,
    multi: MultiProgress,
    total: ProgressBar,
    /// Documents created whose content is not in yet: deleted if the upload fails or is
    /// interrupted.
    pending: Mutex<HashSet<String>>,
}

impl Shared<'_> {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `bridge docs upload` (the arguments passed [`check`]).
#[allow(clippy::print_stdout)]
pub(super) async fn run(api: &Api, args: UploadArgs) -> ExitCode {
    let sizes: Vec<u64> = args
        .files
        .iter()
        .map(|p| super::regular_file(p).unwrap_or(0))
        .collect();
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let total = multi.add(
        ProgressBar::new(sizes.iter().sum())
            .with_style(style(
                "{msg:>9} {prefix:32} [{bar:30}] {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} ETA {eta}",
            ))
            .with_message("total")
            .with_prefix(format!("{} files", args.files.len())),
    );
    let shared = Shared {
        api,
        args: &args,
        multi,
        total,
        pending: Mutex::new(HashSet::new()),
    };
    let mut failed = 0usize;
    let interrupted = {
        let uploads = futures::stream::iter(args.files.iter().zip(sizes))
            .map(|(path, size)| {
                let shared = &shared;
                async move {
                    let result = upload(shared, path, size).await;
                    (path, result)
                }
            })
            .buffer_unordered(usize::from(args.parallel));
        let drive = uploads.for_each(|(path, result)| {
            match result {
                Ok(u) => shared.multi.suspend(|| {
                    println!("{}  {}  {}  {}", u.id, u.size, u.sha256_hex, u.file_name);
                }),
                Err(e) => {
                    failed += 1;
                    shared.multi.suspend(|| {
                        super::report(&format!("{}: {}", path.display(), super::describe(&e)));
                    });
                }
            }
            std::future::ready(())
        });
        tokio::select! {
            () = drive => false,
            () = crate::commands::shutdown_signal() => true,
        }
    };
    shared.total.finish_and_clear();
    shared.multi.clear().ok();
    // Whatever was created but not filled (interrupted uploads) is deleted again.
    let left: Vec<String> = shared.pending().drain().collect();
    for id in left {
        if let Err(e) = api.delete(&id).await {
            super::report(&format!(
                "document {id} was created but its upload did not finish, and deleting it \
                 failed: {}",
                super::describe(&e)
            ));
        }
    }
    if interrupted {
        super::report("interrupted: unfinished documents were deleted");
        return ExitCode::FAILURE;
    }
    if failed > 0 {
        super::report(&format!("{failed} of {} files failed", args.files.len()));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// One file: hash, create, upload (deleting the document again if the upload fails).
async fn upload(shared: &Shared<'_>, path: &Path, size: u64) -> anyhow::Result<Uploaded> {
    let args = shared.args;
    let file_name = file_name(path)?;
    let media_type = args
        .media_type
        .clone()
        .unwrap_or_else(|| guess_media_type(path).to_owned());
    let bar = shared.multi.insert_before(
        &shared.total,
        ProgressBar::new(size)
            .with_style(style(
                "{msg:>9} {prefix:32} [{bar:30}] {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} ETA {eta}",
            ))
            .with_prefix(shown(&file_name))
            .with_message("hashing"),
    );
    let result = async {
        let digest = sha256_of(path, size, &bar).await?;
        bar.reset();
        bar.set_message("uploading");
        let mut body = json!({ "fileName": file_name, "mediaType": media_type });
        if let Some(n) = &args.document_number {
            body["documentNumber"] = n.clone().into();
        }
        if let Some(l) = &args.location {
            body["location"] = l.clone().into();
        }
        if !args.attrs.is_empty() {
            let attrs: BTreeMap<&str, &str> = args
                .attrs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            body["attributes"] = json!(attrs);
        }
        let created = shared
            .api
            .post_json("/catalog/Documents", &body, "cannot create the document")
            .await?;
        let id = created_id(&created)?;
        shared.pending().insert(id.clone());
        match put_content(shared, path, size, &media_type, &digest, &id, &bar).await {
            Ok(()) => {
                shared.pending().remove(&id);
                Ok(Uploaded {
                    id,
                    size,
                    sha256_hex: hex(&digest),
                    file_name: file_name.clone(),
                })
            }
            Err(e) => {
                shared.pending().remove(&id);
                let cleanup = match shared.api.delete(&id).await {
                    Ok(()) => format!("document {id} was deleted again"),
                    Err(d) => format!(
                        "document {id} is left pending: deleting it failed: {}",
                        super::describe(&d)
                    ),
                };
                Err(anyhow!("{} ({cleanup})", super::describe(&e)))
            }
        }
    }
    .await;
    bar.finish_and_clear();
    shared.multi.remove(&bar);
    result
}

/// The `ID` of a created document, checked to be a GUID (it goes into URLs).
fn created_id(created: &Value) -> anyhow::Result<String> {
    created["ID"]
        .as_str()
        .and_then(|id| super::document_id(id).ok())
        .ok_or_else(|| anyhow!("the app created a document but answered no usable ID"))
}

/// `PUT …/content` with the file streamed as the body.
async fn put_content(
    shared: &Shared<'_>,
    path: &Path,
    size: u64,
    media_type: &str,
    digest: &[u8],
    id: &str,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| anyhow!("cannot open the file again: {}", super::io_reason(&e)))?;
    let body =
        reqwest::Body::wrap_stream(file_stream(file, size, bar.clone(), shared.total.clone()));
    let url = shared
        .api
        .url(&format!("{}/content", Api::document_path(id)));
    let request = shared
        .api
        .request(Method::PUT, &url)
        .header(CONTENT_TYPE, media_type)
        .header(CONTENT_LENGTH, size)
        .header(
            "Content-Digest",
            format!("sha-256=:{}:", STANDARD.encode(digest)),
        )
        .body(body);
    shared
        .api
        .send(request, "cannot upload the content", Needs::Write)
        .await?;
    Ok(())
}

/// The file's bytes as a body stream, counted on both bars; a file that is longer or shorter
/// than when it was hashed ends the stream with an error (the upload is aborted).
fn file_stream(
    file: tokio::fs::File,
    expected: u64,
    bar: ProgressBar,
    total: ProgressBar,
) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures::stream::try_unfold((file, 0u64), move |(mut file, sent)| {
        let (bar, total) = (bar.clone(), total.clone());
        async move {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).await?;
            let read = u64::try_from(n).unwrap_or(u64::MAX);
            if n == 0 {
                if sent != expected {
                    return Err(std::io::Error::other(
                        "the file shrank while it was uploaded",
                    ));
                }
                return Ok(None);
            }
            if sent.saturating_add(read) > expected {
                return Err(std::io::Error::other("the file grew while it was uploaded"));
            }
            buf.truncate(n);
            bar.inc(read);
            total.inc(read);
            Ok(Some((buf, (file, sent + read))))
        }
    })
}

/// The SHA-256 of the file, read once as a stream.
async fn sha256_of(path: &Path, size: u64, bar: &ProgressBar) -> anyhow::Result<Vec<u8>> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| anyhow!("cannot open the file: {}", super::io_reason(&e)))?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; CHUNK];
    let mut seen = 0u64;
    loop {
        let n = file.read(&mut buf).await.context("cannot read the file")?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        let read = u64::try_from(n).unwrap_or(u64::MAX);
        seen = seen.saturating_add(read);
        bar.inc(read);
    }
    if seen != size {
        anyhow::bail!("the file changed while it was read ({size} bytes, then {seen})");
    }
    Ok(ctx.finish().as_ref().to_vec())
}

/// Lower-case hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A name cut to [`SHOWN_NAME`] characters for a bar.
pub(super) fn shown(name: &str) -> String {
    cfenv::text::cut(
        name,
        SHOWN_NAME,
        cfenv::text::Controls::Drop,
        cfenv::text::Ellipsis::WhenCut,
    )
}

/// A bar style from a constant template.
pub(super) fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn attributes_are_key_value_pairs() {
        assert_eq!(attribute("year=2026"), Ok(("year".into(), "2026".into())));
        assert_eq!(attribute("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(attribute("empty="), Ok(("empty".into(), String::new())));
        assert_eq!(
            attribute("x").unwrap_err(),
            "--attr expects key=value, got \"x\""
        );
        assert!(attribute("=v").is_err());
    }

    #[test]
    fn media_types_are_checked_and_guessed() {
        assert!(media_type("application/pdf").is_ok());
        assert!(media_type("text/plain; charset=utf-8").is_ok());
        assert!(media_type("pdf").is_err());
        assert!(media_type("text/").is_err());
        assert_eq!(guess_media_type(Path::new("a/B.PDF")), "application/pdf");
        assert_eq!(guess_media_type(Path::new("notes.txt")), "text/plain");
        assert_eq!(
            guess_media_type(Path::new("x.unknown")),
            "application/octet-stream"
        );
        assert_eq!(
            guess_media_type(Path::new("noext")),
            "application/octet-stream"
        );
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
