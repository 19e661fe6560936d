//! Process-level settings that are not bindings, read once at start-up. Every variable the app
//! reads is listed in `docs/CONFIG.md`; a test keeps that list and this code in step.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

/// `BRIDGE_EXTRA_CA_CERTS`: a PEM file of extra root certificates to trust (the dev stack's CA;
/// a corporate proxy's CA), like Node's `NODE_EXTRA_CA_CERTS`.
pub const EXTRA_CA_CERTS: &str = "BRIDGE_EXTRA_CA_CERTS";

/// Reads the extra root certificates named by `BRIDGE_EXTRA_CA_CERTS`, if set.
pub fn extra_roots() -> anyhow::Result<Vec<Vec<u8>>> {
    match std::env::var_os(EXTRA_CA_CERTS) {
        None => Ok(Vec::new()),
        Some(path) if path.is_empty() => Ok(Vec::new()),
        Some(path) => {
            let path = PathBuf::from(path);
            let pem = std::fs::read(&path)
                .with_context(|| format!("{EXTRA_CA_CERTS}: cannot read {}", path.display()))?;
            Ok(vec![pem])
        }
    }
}

/// `BRIDGE_DATA_DIR`: the app's data directory (the SQLite database `runs.db` when no
/// PostgreSQL is bound).
pub const DATA_DIR: &str = "BRIDGE_DATA_DIR";

/// The app's data directory: `BRIDGE_DATA_DIR`, else `bridge` in the temporary directory
/// (`$TMPDIR`, which Cloud Foundry points at the instance's own ephemeral disk,
/// `/home/vcap/tmp`: a SQLite history there lasts as long as the instance; bind PostgreSQL to
/// keep it and to share it between instances).
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_DIR) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::temp_dir().join("bridge"),
    }
}

/// `BRIDGE_METRICS_TOKEN`: when set, `GET /metrics` needs `Authorization: Bearer <token>`.
pub const METRICS_TOKEN: &str = "BRIDGE_METRICS_TOKEN";

/// `BRIDGE_UPSTREAM_TIMEOUT_MS`: deadline of one call to a dependency (default 15 000).
pub const UPSTREAM_TIMEOUT_MS: &str = "BRIDGE_UPSTREAM_TIMEOUT_MS";

/// `BRIDGE_MAX_PAGE_SIZE`: most entities in one OData page (default 1000).
pub const MAX_PAGE_SIZE: &str = "BRIDGE_MAX_PAGE_SIZE";

/// `BRIDGE_MAX_CONNECTIONS`: most client connections open at once (default 2048).
pub const MAX_CONNECTIONS: &str = "BRIDGE_MAX_CONNECTIONS";

/// `BRIDGE_IDLE_TIMEOUT_S`: seconds a keep-alive connection may idle before the app closes it
/// (default 120: longer than the Cloud Foundry router keeps idle connections to an app, so the
/// router, not the app, closes them and never reuses one the app is closing).
pub const IDLE_TIMEOUT_S: &str = "BRIDGE_IDLE_TIMEOUT_S";

/// The app's connection limits ([`crate::app::server_limits`], adjusted by
/// `BRIDGE_MAX_CONNECTIONS` and `BRIDGE_IDLE_TIMEOUT_S`).
pub fn server_limits() -> anyhow::Result<httpserve::Limits> {
    let mut limits = crate::app::server_limits();
    if let Some(n) = number(MAX_CONNECTIONS, 1, 1_000_000)? {
        limits.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(s) = number(IDLE_TIMEOUT_S, 1, 86_400)? {
        limits.idle_timeout = Duration::from_secs(s);
    }
    Ok(limits)
}

/// Who may read `/metrics`: with `BRIDGE_METRICS_TOKEN`, holders of that token; without it,
/// anyone locally, but nobody on Cloud Foundry (where every route is public).
pub fn metrics_access(on_cf: bool) -> anyhow::Result<crate::app::metrics::MetricsAccess> {
    use crate::app::metrics::MetricsAccess;
    match std::env::var(METRICS_TOKEN) {
        Ok(t) if t.len() >= 16 && t.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(MetricsAccess::Token(cfenv::Secret::new(t)))
        }
        Ok(t) if !t.is_empty() => anyhow::bail!(
            "{METRICS_TOKEN}: must be at least 16 printable characters without spaces"
        ),
        _ if on_cf => Ok(MetricsAccess::Disabled),
        _ => Ok(MetricsAccess::Open),
    }
}

/// The limits from `BRIDGE_UPSTREAM_TIMEOUT_MS` and `BRIDGE_MAX_PAGE_SIZE`.
pub fn limits() -> anyhow::Result<crate::app::Limits> {
    let mut limits = crate::app::Limits::default();
    if let Some(ms) = number(UPSTREAM_TIMEOUT_MS, 1, 600_000)? {
        limits.upstream_timeout = Duration::from_millis(ms);
    }
    if let Some(n) = number(MAX_PAGE_SIZE, 1, 100_000)? {
        limits.max_page_size = usize::try_from(n).unwrap_or(usize::MAX);
    }
    Ok(limits)
}

fn number(var: &str, min: u64, max: u64) -> anyhow::Result<Option<u64>> {
    match std::env::var(var) {
        Err(_) => Ok(None),
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => anyhow::bail!("{var}: expected a whole number from {min} to {max}, got {v:?}"),
        },
    }
}

/// `BRIDGE_DOCUMENT_KEY_TEMPLATE`: the object key template of documents.
pub const DOCUMENT_KEY_TEMPLATE: &str = "BRIDGE_DOCUMENT_KEY_TEMPLATE";
/// `BRIDGE_DOCUMENT_MAX_BYTES`: the largest document.
pub const DOCUMENT_MAX_BYTES: &str = "BRIDGE_DOCUMENT_MAX_BYTES";
/// `BRIDGE_DOCUMENT_MEDIA_TYPES`: the accepted media types (comma-separated, `type/*` allowed).
pub const DOCUMENT_MEDIA_TYPES: &str = "BRIDGE_DOCUMENT_MEDIA_TYPES";
/// `BRIDGE_RECONCILE_GRACE_S`: how old an unreferenced object or a stalled upload must be
/// before reconcile repairs it.
pub const RECONCILE_GRACE_S: &str = "BRIDGE_RECONCILE_GRACE_S";
/// `BRIDGE_PRESIGN_LIFETIME_S`: the longest life of a presigned URL.
pub const PRESIGN_LIFETIME_S: &str = "BRIDGE_PRESIGN_LIFETIME_S";

/// The document settings for `bucket`, with the variables above applied.
pub fn documents(bucket: String) -> anyhow::Result<crate::app::documents::DocumentSettings> {
    use anyhow::Context as _;
    let mut s = crate::app::documents::DocumentSettings::new(bucket)?;
    if let Ok(t) = std::env::var(DOCUMENT_KEY_TEMPLATE)
        && !t.is_empty()
    {
        s.key_template = documents::keys::KeyTemplate::parse(&t)
            .with_context(|| format!("{DOCUMENT_KEY_TEMPLATE}: invalid template"))?;
    }
    if let Some(n) = number(DOCUMENT_MAX_BYTES, 1, 5 * 1024 * 1024 * 1024 * 1024)? {
        s.max_bytes = n;
    }
    if let Ok(list) = std::env::var(DOCUMENT_MEDIA_TYPES)
        && !list.is_empty()
    {
        s.media = documents::media::MediaPolicy::parse(&list)
            .with_context(|| format!("{DOCUMENT_MEDIA_TYPES}: invalid list"))?;
    }
    if let Some(n) = number(RECONCILE_GRACE_S, 0, 30 * 86_400)? {
        s.reconcile_grace = Duration::from_secs(n);
    }
    if let Some(n) = number(PRESIGN_LIFETIME_S, 1, 7 * 86_400)? {
        s.presign_lifetime = Duration::from_secs(n);
    }
    Ok(s)
}

/// `BRIDGE_ALERT_GRACE_S`: how long after an occurrence's time (and flexible window) its call
/// may still arrive before the watchdog judges it (default 600 s: Lambda's two asynchronous
/// retries, about three minutes, with room to spare).
pub const ALERT_GRACE_S: &str = "BRIDGE_ALERT_GRACE_S";

/// `BRIDGE_ALERT_WEBHOOK`: where alerts go when no `alert-notification` service is bound.
pub const ALERT_WEBHOOK: &str = "BRIDGE_ALERT_WEBHOOK";

/// The watchdog's grace ([`ALERT_GRACE_S`]).
pub fn alert_grace() -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(
        number(ALERT_GRACE_S, 1, 86_400)?.unwrap_or(600),
    ))
}

/// The alert webhook ([`ALERT_WEBHOOK`]), if set.
pub fn alert_webhook() -> Option<String> {
    std::env::var(ALERT_WEBHOOK)
        .ok()
        .filter(|v| !v.trim().is_empty())
}
