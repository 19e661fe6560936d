//! Integration tests for `awslink`: one binary, one module per area.
#![allow(clippy::unwrap_used)]

/// Fixtures, VCAP builders, the fake STS and the moto server helper.
mod common;

/// `RoleCredentials` with a fake `AssumeRoleApi` under a paused clock: single flight, refresh
/// ahead of expiry, outages, backoff, never-expired.
mod credentials;
/// Long-term keys from the Credential Store (in-memory fake).
mod keys;
/// End to end against the dev stack: generated bindings, local Credential Store, STS and S3
/// through the Private Link name (DNS override).
mod local_s3;
/// The real STS and S3 clients against moto, a second implementation of both APIs (plain
/// http and https with an extra root certificate).
mod moto;
/// `S3Backend`'s object operations through `SdkS3` (streamed uploads in parts, aborts,
/// ranges, listing, presigned URLs), each against the dev stack's local S3 and against moto.
mod objects;
/// The S3 client's endpoint, addressing and checksum settings (offline, via presigning).
mod s3;
/// `AwsSettings::from_vcap`: the sample VCAP document, defaults, errors naming fields.
mod settings;
