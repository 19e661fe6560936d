//! `Content-Disposition` for a download (RFC 6266 §4, with RFC 8187 for non-ASCII names): an
//! ASCII `filename="…"` for old clients (non-ASCII and unsafe characters as `_`, quotes and
//! backslashes replaced) and, when the name is not plain ASCII, `filename*=UTF-8''…` with
//! the UTF-8 bytes percent-encoded. Control characters never reach the value, so it is always
//! a valid header value.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

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

/// The header value; `kind` is `attachment` or `inline`.
pub fn content_disposition(kind: &str, file_name: &str) -> String {
    let name = crate::keys::sanitize_file_name(file_name);
    let ascii: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '_',
        })
        .collect();
    let kind = if kind == "inline" {
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
        assert_eq!(
            content_disposition("attachment", "plan 7.pdf"),
            "attachment; filename=\"plan 7.pdf\""
        );
        assert_eq!(
            content_disposition("attachment", "Übersicht \"Q1\".xlsx"),
            "attachment; filename=\"_bersicht _Q1_.xlsx\"; filename*=UTF-8''%C3%9Cbersicht%20_Q1_.xlsx"
        );
        assert_eq!(
            content_disposition("inline", "a\r\nb"),
            "inline; filename=\"ab\""
        );
    }

    #[test]
    fn always_a_valid_header_value() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..2000 {
            let name: String = (0..rng.usize(0..50))
                .map(|_| char::from_u32(rng.u32(0..0x2_0000)).unwrap_or('x'))
                .collect();
            let v = content_disposition("attachment", &name);
            assert!(http::HeaderValue::from_str(&v).is_ok(), "{name:?} → {v:?}");
        }
    }
}
