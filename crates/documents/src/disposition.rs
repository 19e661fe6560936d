//! `Content-Disposition` for a download (RFC 6266 §4, with RFC 8187 for non-ASCII names).
//!
//! The name is first [`sanitize_file_name`]d (no path separators, control or bidirectional
//! characters, leading dots; at most 255 bytes). Then:
//!
//! - `filename="…"` is always there, for old clients: non-ASCII characters become `_`, and so
//!   would `"` and `\` (the sanitising already replaced them), so the quoted string needs no
//!   escapes;
//! - `filename*=UTF-8''…` (RFC 8187 §3.2, `attr-char` kept, every other byte
//!   percent-encoded) follows whenever the name is not plain ASCII, and carries it exactly;
//!   RFC 6266 §4.3 has clients that understand it prefer it.
//!
//! The value holds only visible ASCII and spaces, so it is always a valid header value.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::keys::sanitize_file_name;

/// RFC 8187 `attr-char`: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" /
/// "`" / "|" / "~"; everything else is percent-encoded.
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The header value; `kind` is `inline` or `attachment` (anything else is `attachment`, the
/// safe choice).
pub fn content_disposition(kind: &str, file_name: &str) -> String {
    let name = sanitize_file_name(file_name);
    let ascii: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '_',
        })
        .collect();
    let kind = if kind.eq_ignore_ascii_case("inline") {
        "inline"
    } else {
        "attachment"
    };
    if ascii == name {
        format!("{kind}; filename=\"{ascii}\"")
    } else {
        format!(
            "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
            utf8_percent_encode(&name, ATTR)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_encoded_names() {
        for (kind, name, value) in [
            (
                "attachment",
                "plan 7.pdf",
                "attachment; filename=\"plan 7.pdf\"",
            ),
            ("inline", "a\r\nb", "inline; filename=\"ab\""),
            ("INLINE", "x", "inline; filename=\"x\""),
            ("attachment; evil=1", "x", "attachment; filename=\"x\""),
            ("attachment", "", "attachment; filename=\"_\""),
            (
                "attachment",
                "../../etc/passwd",
                "attachment; filename=\"_.._etc_passwd\"",
            ),
            (
                "attachment",
                "a\\\"b;c,d'e.txt",
                "attachment; filename=\"a__b;c,d'e.txt\"",
            ),
            (
                "attachment",
                "Übersicht \"Q1\".xlsx",
                "attachment; filename=\"_bersicht _Q1_.xlsx\"; filename*=UTF-8''%C3%9Cbersicht%20_Q1_.xlsx",
            ),
            (
                "attachment",
                "東京\u{202E}.pdf",
                "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E6%9D%B1%E4%BA%AC.pdf",
            ),
        ] {
            assert_eq!(content_disposition(kind, name), value, "{name:?}");
        }
    }

    /// Whatever the name: a valid header value, one parameter each, and a `filename*` that
    /// decodes to the sanitised name.
    #[test]
    fn always_a_valid_header_value() {
        let pieces = [
            "\r\n", "\0", "\"", "\\", ";", ",", "'", "%", "%22", "ä", "😀", "\u{202E}", "\u{7f}",
            "\u{85}", "a", " ", ".", "/", "=", "*",
        ];
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..5000 {
            let name: String = (0..rng.usize(0..60))
                .map(|_| match rng.bool() {
                    true => rng.char(..).to_string(),
                    false => pieces[rng.usize(..pieces.len())].to_owned(),
                })
                .collect();
            let v = content_disposition("attachment", &name);
            assert!(http::HeaderValue::from_str(&v).is_ok(), "{name:?} → {v:?}");
            assert_eq!(v.matches("filename=\"").count(), 1, "{v}");
            let quoted = v
                .split_once("filename=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(q, _)| q)
                .expect("a quoted name");
            assert!(!quoted.contains('\\'), "{v}");
            let stored = sanitize_file_name(&name);
            match v.split_once("filename*=UTF-8''") {
                Some((_, encoded)) => {
                    let decoded = percent_encoding::percent_decode_str(encoded)
                        .decode_utf8()
                        .expect("UTF-8");
                    assert_eq!(decoded, stored);
                    assert!(!stored.is_ascii());
                }
                None => assert_eq!(quoted, stored),
            }
        }
    }
}
