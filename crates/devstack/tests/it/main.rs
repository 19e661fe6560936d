//! Integration tests of the dev stack: the real servers on ephemeral loopback ports, spoken to
//! over HTTPS by our `credstore` client, by raw HTTP and by third-party tools.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    missing_docs
)]

/// The `alerts` notifier against the local Alert Notification service and a webhook.
mod alerts;
/// The local STS and S3 checked with the aws CLI, boto3 presigned URLs and the AWS SDK for JavaScript.
mod aws_clients;
/// Shared set-up: a started dev stack in a temporary directory and clients for it.
mod common;
/// Stopping, hanging and restarting single stand-ins (for the app's fault tests).
mod control;
/// The Credential Store API through our client: CRUD, lists, conditions, auth, errors.
mod credstore_api;
/// Raw protocol checks: bad JWE, expired `iat`, plaintext bodies, missing headers.
mod credstore_protocol;
/// Hostile clients against every stand-in: made-up methods, silent and slow clients, shutdown.
mod hostile;
/// Issue 12, item 7: ListBuckets order, S3 error documents, STS sessions across a restart,
/// oversized and malformed requests in each stand-in's error shape.
mod issue_12;
/// Interop with the npm `jose` package, an independent JOSE implementation.
mod jose_interop;
/// The local Lambda: awslambdaric against its Runtime API, the aws CLI and boto3 against its
/// Invoke API, timeouts, crashes, asynchronous retries and the on-failure destination.
mod lambda;
/// Oversized headers and URLs against every stand-in.
mod oversized;
/// Data at rest: restart keeps data, files are private and sealed.
mod persistence;
/// Local S3 over raw HTTPS: authentication, tokens, policies, bad input, path traversal,
/// persistence and the generated `privatelink` binding.
mod s3_errors;
/// The local Scheduler's API with the aws CLI and boto3: CRUD, paging, errors, a schedule that
/// fires, persistence.
mod scheduler_api;
/// The local Secrets Manager: the aws CLI and boto3, the caller role's one secret, AWS JSON
/// errors, sealed persistence.
mod secrets;
/// Local STS, AssumeRole: SDK and raw XML, durations, trust, validation, session policies.
mod sts_assume_role;
/// Local STS, authentication: SigV4 failures, tokens, expiry, presigning, actions.
mod sts_auth;
/// The SigV4 verifier against the AWS signing test suite shipped in `aws-sigv4`.
mod sts_sigv4_suite;
/// Helpers for the STS tests: the SDK client, reference-signed raw requests, XML readers.
mod sts_support;
/// The AWS wiring of the dev stack: `aws-config` binding, keys in the Credential Store, restart.
mod sts_wiring;
/// Local XSUAA: token contents (header, client and user claims, users file, minted tokens).
mod xsuaa_claims;
/// Local XSUAA: `/token_keys`, signatures, key rotation, discovery, restart.
mod xsuaa_keys;
/// Local XSUAA: the authorization-code flow, redirect URIs, PKCE, refresh tokens.
mod xsuaa_login;
/// Local XSUAA: the token endpoint's client authentication, responses and errors.
mod xsuaa_token;
