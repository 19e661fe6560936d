//! Text for error messages and logs made from things that may hold secrets: a service's
//! message or a client's value cut short, a JSON error described without quoting its input,
//! an error's source chain on one line.
//!
//! Every crate that puts outside text into a message uses these, so the rules live in one
//! place: a service message is cut (the Credential Store, XSUAA and AWS messages to 200
//! characters), control characters can be left out so a message stays on one line, and a
//! `serde_json` error that could quote a value is reduced to its position.
//! Like the rest of the crate, this does no IO.

use std::error::Error as StdError;

/// What [`cut`] does with control characters (newlines, escapes, NUL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controls {
    /// Kept, for text that is known to be one line already (an AWS error's `Message`).
    Keep,
    /// Left out before cutting, so a message cannot break a log line or a header.
    Drop,
}

/// When [`cut`] appends `…` to mark that the text was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ellipsis {
    /// Never: the caller quotes a prefix of a client's value.
    Never,
    /// When characters that would have been kept were cut (control characters left out by
    /// [`Controls::Drop`] do not count).
    WhenCut,
    /// When the input, control characters included, is longer than the limit: `…` says that
    /// the text shown is not all the service sent (the Credential Store client's rule).
    WhenLonger,
}

/// At most `max` characters of `text`, borrowed; no marker.
pub fn prefix(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// At most `max` characters of `text`, treating control characters as `controls` says and
/// marking a cut as `ellipsis` says (the `…` is not counted in `max`).
pub fn cut(text: &str, max: usize, controls: Controls, ellipsis: Ellipsis) -> String {
    let kept = || {
        text.chars()
            .filter(move |c| controls == Controls::Keep || !c.is_control())
    };
    let mut out: String = kept().take(max).collect();
    let mark = match ellipsis {
        Ellipsis::Never => false,
        Ellipsis::WhenCut => kept().nth(max).is_some(),
        Ellipsis::WhenLonger => text.chars().nth(max).is_some(),
    };
    if mark {
        out.push('…');
    }
    out
}

/// A `serde_json` error as safe text: its message unless that could quote a value from the
/// input (serde's "invalid type: string \"…\"" does, and the input may be a credential), then
/// only the position. Missing, unknown and duplicate field messages name fields only.
pub fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let names_fields_only = ["missing field", "unknown field", "duplicate field"]
        .iter()
        .any(|p| text.starts_with(p));
    if e.is_data() && !names_fields_only {
        format!(
            "a value has the wrong type at line {} column {}",
            e.line(),
            e.column()
        )
    } else {
        text
    }
}

/// An error and its sources on one line, `: `-separated, skipping a source whose text the
/// line already holds (many error types repeat their source in their own message) and empty
/// texts. Safe for the errors of HTTP connectors and the AWS SDK, which name hosts and causes,
/// never credentials.
pub fn chain(err: &dyn StdError) -> String {
    let mut line = String::new();
    let mut next: Option<&dyn StdError> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        next = e.source();
    }
    line
}

/// The text of the innermost source of `err` (of `err` itself if it has none): for a
/// transport error, the cause without the request URL that the outer error names.
pub fn root_cause(err: &dyn StdError) -> String {
    let mut e = err;
    while let Some(next) = e.source() {
        e = next;
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn prefix_counts_characters_not_bytes() {
        assert_eq!(prefix("héllo", 2), "hé");
        assert_eq!(prefix("abc", 3), "abc");
        assert_eq!(prefix("abc", 10), "abc");
        assert_eq!(prefix("abc", 0), "");
    }

    #[test]
    fn cut_marks_a_cut_only_when_asked() {
        use Controls::{Drop, Keep};
        use Ellipsis::{Never, WhenCut, WhenLonger};
        let check = |text: &str, max, controls, ellipsis, want: &str| {
            assert_eq!(
                cut(text, max, controls, ellipsis),
                want,
                "{text:?} {max} {controls:?} {ellipsis:?}"
            );
        };
        check("abcdef", 3, Keep, WhenCut, "abc…");
        check("abc", 3, Keep, WhenCut, "abc");
        check("a\nbcdef", 3, Keep, WhenCut, "a\nb…");
        check("a\nbcdef", 3, Drop, WhenCut, "abc…");
        check("abcdef", 3, Drop, Never, "abc");
        check("ééééé", 2, Keep, WhenLonger, "éé…");
        // Three printable characters and a newline: nothing printable was cut, but the
        // message was longer than the limit.
        check("ab\nc", 3, Drop, WhenCut, "abc");
        check("ab\nc", 3, Drop, WhenLonger, "abc…");
        check("ab\nc", 3, Drop, Never, "abc");
        check("", 3, Drop, WhenLonger, "");
    }

    #[test]
    fn json_errors_never_quote_a_value() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Wire {
            name: String,
            value: String,
        }
        let e = serde_json::from_str::<Wire>(r#"{"name":"n","value":["secret-in-array"]}"#)
            .err()
            .unwrap();
        let text = json_error(&e);
        assert_eq!(text, "a value has the wrong type at line 1 column 20");
        let e = serde_json::from_str::<Wire>(r#"{"name":"n"}"#)
            .err()
            .unwrap();
        assert!(json_error(&e).starts_with("missing field `value`"));
        let e = serde_json::from_str::<Wire>(r#"{"name":"n","value":"v","x":1}"#)
            .err()
            .unwrap();
        assert!(json_error(&e).starts_with("unknown field `x`"));
        let e = serde_json::from_str::<Wire>(r#"{"name":"#).err().unwrap();
        assert_eq!(
            json_error(&e),
            "EOF while parsing a value at line 1 column 8"
        );
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Layer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn StdError + 'static))
        }
    }

    fn layers(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |inner, text| Some(Layer(text, inner.map(Box::new))))
            .unwrap()
    }

    #[test]
    fn chain_joins_sources_without_repeating_them() {
        assert_eq!(chain(&layers(&["outer"])), "outer");
        assert_eq!(
            chain(&layers(&[
                "dispatch failure",
                "io error",
                "connection refused"
            ])),
            "dispatch failure: io error: connection refused"
        );
        assert_eq!(
            chain(&layers(&["request failed: timed out", "timed out"])),
            "request failed: timed out"
        );
        assert_eq!(chain(&layers(&["", "inner"])), "inner");
    }

    #[test]
    fn root_cause_is_the_innermost_text() {
        assert_eq!(root_cause(&layers(&["outer"])), "outer");
        assert_eq!(
            root_cause(&layers(&[
                "error sending request for url (…)",
                "tcp",
                "refused"
            ])),
            "refused"
        );
    }
}
