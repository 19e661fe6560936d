//! The crate's one error type, for what an operator configures (a key template, a media type
//! list) and what a client sends in a header (a media type, a checksum).
//!
//! Policy: every error names the setting or header it is about and, for a template, the byte
//! position of the culprit. Input appears only through [`quote`]: at most 60 characters, with
//! control and bidirectional characters replaced, so a message is always one safe line. No
//! header value is ever quoted whole; checksums are not secrets, but their headers are named,
//! not repeated.
//!
//! Refusals of a document's *content* (too large, wrong type, wrong checksum) are not errors of
//! this type but [`crate::inspect::Refusal`]s, because the app answers them with statuses of
//! their own (413, 415, 400) while an [`Error`] is a configuration error at start-up or a 400.

/// A configuration or header that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key template is unusable; the message names the byte position where it can.
    #[error("key template: {0}")]
    Template(String),
    /// A media type (an entry of the accepted list, or one a client declared) is malformed.
    #[error("media type {input}: {reason}")]
    MediaType {
        /// The type as given, [`quote`]d.
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A checksum header is malformed, or two disagree.
    #[error("{header}: {reason}")]
    Digest {
        /// The header.
        header: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// `input` for a message: in single quotes, at most 60 characters, control characters, line
/// separators and bidirectional controls replaced by `?`.
pub(crate) fn quote(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(60)
        .map(|c| if crate::keys::is_hidden(c) { '?' } else { c })
        .collect();
    if input.chars().nth(60).is_some() {
        out.push('…');
    }
    format!("'{out}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_short_and_on_one_line() {
        assert_eq!(quote("a\r\nb\u{202E}"), "'a??b?'");
        let long = quote(&"x".repeat(1000));
        assert_eq!(long.chars().count(), 60 + 3);
        assert_eq!(quote(""), "''");
    }
}
