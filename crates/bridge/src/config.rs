//! Process-level settings that are not bindings, read once at start-up. Every variable the app
//! reads is listed in `docs/CONFIG.md`; a test keeps that list and this code in step.

use std::path::PathBuf;

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
