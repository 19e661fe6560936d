//! XSUAA security for btp-aws-bridge.
//!
//! - [`descriptor`]: the `xs-security.json` application security descriptor (scopes, role
//!   templates, role collections, authorities) and `$XSAPPNAME` expansion. Pure.
//! - [`jwt`]: strict decoding of compact JWS tokens (header, claims, signature input).
//! - [`jwks`]: JWKS fetching from `https://<uaadomain>/token_keys?zid=…` with a bounded-TTL,
//!   rate-limited cache.
//! - [`validate`]: token validation with the same verdicts as `@sap/xssec` 4, and scope checks.
//! - [`client`]: the client-credentials token client (secret or X.509), with a cache.
//! - [`error`]: the crate's error types.

pub mod client;
pub mod descriptor;
pub mod error;
pub mod jwks;
pub mod jwt;
pub mod validate;
