//! S3 clients on the configured endpoint (normally the Private Link `bucket.` endpoint).
//!
//! Every setting is deliberate:
//!
//! - **Endpoint and region** from [`AwsSettings`]: `https://bucket.<host>` of the `privatelink`
//!   binding, or `s3Endpoint`, or AWS's regional endpoint. The client's region must be the
//!   endpoint's region: the SDK signs with it whatever the URL says. The endpoint is set on
//!   the S3 config only, never on shared config, so it cannot redirect STS (both:
//!   docs/protocols.md §Addressing).
//! - **Addressing** ([`AwsSettings::path_style`]): virtual-hosted for Private Link (the SDK
//!   sends to `<bucket>.bucket.<host>`, covered by the endpoint's wildcard DNS name) and for
//!   AWS; path-style for an `s3Endpoint` (S3-compatible servers on `localhost` or an IP have no
//!   per-bucket host names); `forcePathStyle` overrides both (use it for bucket names with dots
//!   over https, which a wildcard certificate cannot cover).
//! - **Checksums: `WhenRequired` for requests and responses, on every endpoint.** Since 2025
//!   the SDK adds a CRC32 to every upload (as an `aws-chunked` body with a trailer for streams,
//!   with *signed* chunks over plain http) and validates checksums on every download. S3
//!   clones and emulators reject that form, and it broke presigned PUTs (awslabs/aws-sdk-rust
//!   issue #1240, quickwit-oss/quickwit pull request #6541; docs/protocols.md §Checksums), so
//!   the checksum mode must be a deliberate setting. With `WhenRequired` the SDK sends
//!   checksums only where S3 requires one (e.g. DeleteObjects) and plain bodies otherwise; TLS
//!   protects transport and the document store computes its own content hashes. The same
//!   setting on Private Link and on the dev stand-in means the tests exercise what production
//!   sends.
//! - **Timeouts** ([`Timeouts::S3`]): connect, per attempt, per operation.
//! - **Credentials**: [`RoleCredentials`] with the SDK's identity cache switched off, so our
//!   cache (refresh margin, backoff, counters) is the only one.
//! - **HTTP client**: [`crate::http::http_client`] (extra roots for the dev CA; plain http for
//!   emulators).

use aws_sdk_s3::config::{
    BehaviorVersion, IdentityCache, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedHttpClient,
};

use crate::credentials::RoleCredentials;
use crate::http::Timeouts;
use crate::settings::AwsSettings;

/// The S3 client configuration described in the module doc.
pub fn s3_config(
    settings: &AwsSettings,
    credentials: RoleCredentials,
    http: SharedHttpClient,
    timeouts: Timeouts,
) -> aws_sdk_s3::Config {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .identity_cache(IdentityCache::no_cache())
        .http_client(http)
        .timeout_config(timeouts.config())
        .force_path_style(settings.path_style())
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    config.set_app_name(crate::sts::app_name());
    if let Some(url) = settings.s3_endpoint.url() {
        config = config.endpoint_url(url.as_str().trim_end_matches('/'));
    }
    config.build()
}

/// An S3 client with [`s3_config`].
pub fn s3_client(
    settings: &AwsSettings,
    credentials: RoleCredentials,
    http: SharedHttpClient,
    timeouts: Timeouts,
) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(settings, credentials, http, timeouts))
}
