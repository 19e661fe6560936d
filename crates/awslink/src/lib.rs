//! The AWS side of the bridge: temporary credentials from STS AssumeRole, behind our own
//! explicit cache, and S3 clients on the SAP Private Link endpoint.
//!
//! **Architecture invariant:** `awslink` is the only crate that calls STS ([`sts`]). Every other
//! crate gets AWS access through the clients built here.
//!
//! The chain, from configuration to an S3 request:
//!
//! 1. [`settings`]: [`AwsSettings::from_vcap`] reads the user-provided config service
//!    (`aws-config`) and the `privatelink` binding.
//! 2. [`keys`]: [`LongTermKeys`] reads the IAM user's access key from the SAP Credential Store
//!    (password credential: `username` = access key id, `value` = secret access key).
//! 3. [`sts`]: [`StsAssumeRole`] calls AssumeRole with those keys.
//! 4. [`credentials`]: [`RoleCredentials`] caches the temporary credentials, refreshes them
//!    ahead of expiry (single flight), rides out STS outages with backoff, never serves expired
//!    ones, counts refreshes and failures, and is the SDK's credentials provider.
//! 5. [`s3`]: the S3 client (endpoint, region, addressing, checksum and timeout settings) and
//!    the app's seam to it, [`s3::S3Backend`] (bucket listing, object streaming in bounded
//!    parts, ranges, listing, presigned URLs within the credentials' life, and error
//!    classification; [`s3::MemoryS3`] for tests).
//! 6. [`http`]: the HTTP client both SDK clients share (rustls, extra root certificates).
//!
//! [`AwsLink::new`] does steps 3–6 in one call; [`error`] has the crate's one error type.
//!
//! # The config service
//!
//! `cf create-user-provided-service aws-config -p '{…}'` with these keys (also in
//! `docs/AWS.md`):
//!
//! | key | | meaning |
//! |---|---|---|
//! | `region` | required | AWS region, e.g. `eu-central-1` (STS and S3 signing region; Private Link's region) |
//! | `roleArn` | required | the role to assume, `arn:aws:iam::<account>:role/<name>` |
//! | `roleSessionName` | default `btp-aws-bridge` | 2–64 of `[A-Za-z0-9_+=,.@-]`; shows in CloudTrail |
//! | `externalId` | optional | sent as `ExternalId` when the trust policy requires one |
//! | `sessionDurationSeconds` | default 3600 | 900–43200 and at most the role's MaxSessionDuration |
//! | `refreshMarginSeconds` | default 300 | refresh when less is left; at most half the duration |
//! | `bucket` | optional | the default bucket |
//! | `stsEndpoint` | optional | STS URL; default `https://sts.<region>.amazonaws.com` |
//! | `s3Endpoint` | optional | explicit S3 URL (S3-compatible servers); wins over Private Link |
//! | `forcePathStyle` | optional | `true`/`false`; default: path-style only for `s3Endpoint` |
//! | `credstoreNamespace` | default `aws` | Credential Store namespace of the long-term key |
//! | `credstoreName` | default `aws-iam-user` | name of the password credential holding it |
//! | `privatelinkInstance` | optional | which `privatelink` binding to use when several are bound |
//! | `description` | optional | free text, ignored |
//!
//! Any other key is an error. Numbers may be JSON numbers or decimal strings, booleans JSON
//! booleans or `"true"`/`"false"`. Endpoints are scheme, host and port only.
//!
//! # Dependencies
//!
//! aws-sdk-sts and aws-sdk-s3 are built without default features (no legacy hyper 0.14 /
//! rustls-ring stack, no SigV4a) but with `rt-tokio` and `behavior-version-latest`; the HTTP
//! client is aws-smithy-http-client with `rustls-aws-lc`, set explicitly on every client.

pub mod credentials;
pub mod error;
pub mod http;
pub mod keys;
pub mod s3;
pub mod settings;
pub mod sts;

use std::sync::Arc;

pub use credentials::{
    AssumeRoleApi, AssumeRoleRequest, CredentialStatus, RefreshOptions, RoleCredentials,
};
pub use error::Error;
pub use http::{Timeouts, http_client};
pub use keys::LongTermKeys;
pub use settings::{AwsSettings, S3Endpoint};
pub use sts::StsAssumeRole;

/// Settings for [`AwsLink::new`] that do not come from the bindings.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Extra trusted root certificates (PEM bundles), e.g. the local dev CA.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// Timeouts of the STS client.
    pub sts_timeouts: Timeouts,
    /// Timeouts of the S3 client.
    pub s3_timeouts: Timeouts,
    /// DNS overrides: every host name ending in the suffix resolves to the address (the dev
    /// stack's Private Link wildcard name → `127.0.0.1`). Empty in production.
    pub resolve: Vec<(String, std::net::IpAddr)>,
}

impl Default for LinkOptions {
    fn default() -> Self {
        Self {
            extra_roots_pem: Vec::new(),
            sts_timeouts: Timeouts::STS,
            s3_timeouts: Timeouts::S3,
            resolve: Vec::new(),
        }
    }
}

/// Everything the app needs to reach AWS: the settings, the credential cache (for health
/// checks) and an S3 client using it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsLink {
    /// The settings it was built from.
    pub settings: AwsSettings,
    /// The temporary credentials (shared with the S3 client).
    pub credentials: RoleCredentials,
    /// The S3 client on the configured endpoint.
    pub s3: aws_sdk_s3::Client,
}

impl AwsLink {
    /// Builds the STS client, the credential cache and the S3 client. Makes no network call:
    /// the first AssumeRole happens on first use (or call `credentials.credentials()` to fail
    /// fast at start-up).
    pub fn new(
        settings: AwsSettings,
        keys: LongTermKeys,
        options: &LinkOptions,
    ) -> Result<Self, Error> {
        let http = http_client(&options.extra_roots_pem, &options.resolve)?;
        let sts = StsAssumeRole::new(&settings, keys, http.clone(), options.sts_timeouts);
        let credentials = RoleCredentials::new(
            Arc::new(sts),
            AssumeRoleRequest::from_settings(&settings),
            RefreshOptions::from_settings(&settings),
        );
        let s3 = s3::s3_client(&settings, credentials.clone(), http, options.s3_timeouts);
        Ok(Self {
            settings,
            credentials,
            s3,
        })
    }

    /// The S3 seam over this link's client ([`s3::SdkS3`]), for the app.
    pub fn backend(&self) -> Arc<dyn s3::S3Backend> {
        let endpoint = self.settings.s3_endpoint.url().map_or_else(
            || format!("https://s3.{}.amazonaws.com", self.settings.region),
            |u| u.as_str().trim_end_matches('/').to_owned(),
        );
        Arc::new(
            s3::SdkS3::new(self.s3.clone(), endpoint).with_credentials(self.credentials.clone()),
        )
    }
}
