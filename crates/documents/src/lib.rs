//! What the app accepts for a document, pure: no IO, no async, no HTTP framework, no clock
//! (every instant is a parameter), and nothing panics on input. The app
//! (`bridge::app::documents`) applies these rules to the requests it streams; the rules
//! themselves are in `docs/DOCUMENTS.md` ("Upload rules").
//!
//! | module | what |
//! |---|---|
//! | [`keys`] | object keys from a template, every value sanitised into one path segment; file names as stored and sent |
//! | [`media`] | the accepted media types, checked against the content's leading bytes by signature |
//! | [`digest`] | the client's checksum headers (`Content-Digest`/`Repr-Digest`, `x-amz-checksum-sha256`), hex and header forms |
//! | [`inspect`] | the upload inspector: size counted, media type checked, SHA-256 computed; [`inspect::Refusal`] |
//! | [`range`] | one `Range` header (RFC 9110 §14) against a size |
//! | [`disposition`] | `Content-Disposition` with an RFC 8187 `filename*` |
//! | [`error`] | [`Error`]: configuration and header errors |
//!
//! An upload, chunk by chunk:
//!
//! ```
//! use documents::digest::{ClientDigest, hex};
//! use documents::inspect::{Inspector, Refusal};
//! use documents::media::MediaPolicy;
//!
//! let policy = MediaPolicy::parse("application/pdf, image/*")?;
//! // The SHA-256 of "%PDF-1.7\n", as a client sends it.
//! let sent = "sha-256=:Bxb5Jkyf4Z9ddFUnYQfz3cwdNJf2PWBomnNViuihv14=:";
//! let expected = ClientDigest::from_headers(Some(sent), None)?;
//! let mut inspector = Inspector::new(1024, &policy, Some("Application/PDF"), expected);
//! for chunk in [&b"%PDF-"[..], b"1.7\n"] {
//!     inspector.feed(chunk)?;
//! }
//! let found = inspector.finish()?;
//! assert_eq!((found.size, found.media_type.as_str()), (9, "application/pdf"));
//! assert_eq!(&hex(&found.sha256)[..8], "0716f926");
//!
//! // A program under a picture's name is refused, with the status to answer.
//! let mut inspector = Inspector::new(1024, &policy, Some("image/png"), None);
//! inspector.feed(b"MZ\x90\0\x03\0\0\0")?;
//! let refusal = inspector.finish().unwrap_err();
//! assert!(matches!(refusal, Refusal::ContentMismatch { .. }));
//! assert_eq!(refusal.status(), 415);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An object key, a download's headers:
//!
//! ```
//! use chrono::TimeZone as _;
//! use documents::keys::{KeyInput, KeyTemplate};
//! use documents::range::{RangeOutcome, content_range, parse_range};
//! use documents::disposition::content_disposition;
//!
//! let template = KeyTemplate::parse("documents/{documentNumber}/{ID}/{fileName}")?;
//! let key = template.render(&KeyInput {
//!     id: uuid::Uuid::nil(),
//!     document_number: Some("../../FI/2026"),
//!     location: None,
//!     file_name: "\u{202E}Plan .pdf",
//!     created: chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
//! });
//! assert_eq!(key, "documents/_.._FI_2026/00000000-0000-0000-0000-000000000000/Plan .pdf");
//! assert!(key.starts_with(template.prefix()));
//!
//! assert_eq!(parse_range("bytes=-100", 1000), RangeOutcome::Partial { start: 900, end: 999 });
//! assert_eq!(content_range(900, 999, 1000), "bytes 900-999/1000");
//! assert_eq!(
//!     content_disposition("attachment", "Grüße.txt"),
//!     "attachment; filename=\"Gr__e.txt\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.txt"
//! );
//! # Ok::<(), documents::Error>(())
//! ```

pub mod digest;
pub mod disposition;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod media;
pub mod range;

pub use error::Error;
