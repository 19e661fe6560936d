//! The crate's one error type, for what an operator configures (a key template, a media type
//! list) and what a client sends in a header (a checksum). Refusals of a document's content
//! are [`crate::inspect::Refusal`]s, because the app answers those with their own statuses.
//!
//! Messages name the setting or header and the position; they quote at most 60 characters of
//! input and never a whole header value.

/// A configuration or header that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key template is unusable.
    #[error("key template: {0}")]
    Template(String),
    /// A media type (in the accepted list, or declared by a client) is malformed.
    #[error("media type {0:?} is not a type/subtype")]
    MediaType(String),
    /// A checksum header is malformed, or two disagree.
    #[error("{header}: {reason}")]
    Digest {
        /// The header.
        header: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// At most 60 characters of `s`, for messages.
pub(crate) fn cut(s: &str) -> String {
    s.chars().take(60).collect()
}
