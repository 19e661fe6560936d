//! What the app accepts for a document, pure (no IO, no async, no HTTP framework, no clock:
//! every instant is a parameter; nothing panics on input). The app (`bridge::app::documents`)
//! applies these rules to the requests it streams; see `docs/DOCUMENTS.md`.
//!
//! | module | what |
//! |---|---|
//! | [`keys`] | object keys from a template, every value sanitised into one path segment |
//! | [`media`] | the accepted media types, checked against the content's leading bytes |
//! | [`digest`] | the client's checksum headers (`Content-Digest`, `x-amz-checksum-sha256`), hex |
//! | [`inspect`] | the upload inspector: size counted, media type checked, SHA-256 computed |
//! | [`range`] | one `Range` header (RFC 9110 §14) against a size |
//! | [`disposition`] | `Content-Disposition` with an RFC 8187 `filename*` |
//! | [`error`] | [`Error`]: configuration and header errors |
//!
//! ```
//! use documents::inspect::Inspector;
//! use documents::media::MediaPolicy;
//!
//! let policy = MediaPolicy::default();
//! let mut inspector = Inspector::new(1024, &policy, Some("application/pdf"), None);
//! inspector.feed(b"%PDF-1.7\n")?;
//! let found = inspector.finish()?;
//! assert_eq!((found.size, found.media_type.as_str()), (9, "application/pdf"));
//! # Ok::<(), documents::inspect::Refusal>(())
//! ```

pub mod digest;
pub mod disposition;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod media;
pub mod range;

pub use error::Error;
