//! Percent-decoding and -encoding (RFC 3986) for resource paths, query strings and the links the
//! service writes.

/// Decodes `%XX` escapes (and `+` as a space when `plus_as_space`); `None` for a broken escape
/// or bytes that are not UTF-8.
pub(crate) fn decode(input: &str, plus_as_space: bool) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = hex(*bytes.get(i + 1)?)?;
                let lo = hex(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but the unreserved characters and `'()*,:@$!`, which OData URLs
/// use literally; fit for a query value.
pub(crate) fn encode(input: &str) -> String {
    encode_keeping(input, b"")
}

/// [`encode`] for a path segment: `=` stays literal too (`(a='x',b=1)`).
pub(crate) fn encode_segment(input: &str) -> String {
    encode_keeping(input, b"=")
}

fn encode_keeping(input: &str, extra: &[u8]) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~'()*,:@$!".contains(&b) || extra.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_handles_escapes_plus_and_bad_input() {
        assert_eq!(decode("a%20b+c", true).as_deref(), Some("a b c"));
        assert_eq!(decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(decode("%C3%A4", false).as_deref(), Some("ä"));
        assert_eq!(decode("%", false), None);
        assert_eq!(decode("%4", false), None);
        assert_eq!(decode("%zz", false), None);
        assert_eq!(decode("%FF", false), None);
    }

    #[test]
    fn encode_round_trips() {
        let s = "name eq 'a&b=c+d #ä%'";
        assert_eq!(decode(&encode(s), true).as_deref(), Some(s));
        assert_eq!(encode("a b"), "a%20b");
    }
}
