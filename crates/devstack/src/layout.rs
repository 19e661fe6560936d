//! Where the dev stack keeps things in its data directory. Every path is built here, so the
//! stand-ins and the tools that read a running stack's files (`bridge rotate-keys`) agree on
//! the layout.
//!
//! ```text
//! <data dir>/
//!   vcap-services.json   the generated bindings (0600)
//!   ca.pem, ca-key.pem   the local certificate authority (the key 0600)
//!   credstore/           the local Credential Store's sealed data
//!   xsuaa/               the local XSUAA's keys, users and admin-secret
//!   aws/                 the dev AWS account: the IAM user's key, STS sessions
//!   s3/                  the local S3's buckets and objects
//!   secrets/             the local Secrets Manager's sealed secrets
//!   scheduler/           the local EventBridge Scheduler's schedules and last fires
//! ```

use std::path::{Path, PathBuf};

/// The generated `VCAP_SERVICES` file.
pub fn vcap_services(data_dir: &Path) -> PathBuf {
    data_dir.join("vcap-services.json")
}

/// The local CA's certificate, which clients trust.
pub fn ca_cert(data_dir: &Path) -> PathBuf {
    data_dir.join("ca.pem")
}

/// The local CA's private key.
pub fn ca_key(data_dir: &Path) -> PathBuf {
    data_dir.join("ca-key.pem")
}

/// The local Credential Store's directory.
pub fn credstore_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("credstore")
}

/// The local XSUAA's directory.
pub fn xsuaa_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("xsuaa")
}

/// The bearer secret of the local XSUAA's admin endpoint (`POST /admin/rotate-keys`), in the
/// XSUAA's directory `dir`.
pub fn xsuaa_admin_secret(xsuaa_dir: &Path) -> PathBuf {
    xsuaa_dir.join("admin-secret")
}

/// The dev AWS account's directory.
pub fn aws_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("aws")
}

/// The local S3's directory.
pub fn s3_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("s3")
}

/// The local Secrets Manager's directory.
pub fn secrets_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets")
}

/// The local EventBridge Scheduler's directory.
pub fn scheduler_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("scheduler")
}
