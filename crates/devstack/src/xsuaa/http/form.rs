//! Form bodies and query strings: `application/x-www-form-urlencoded` parameters (a repeated
//! parameter is refused) and percent-decoding as UAA's Java does it.

use std::collections::BTreeMap;

use super::refusal::printable;

/// `application/x-www-form-urlencoded` parameters; a parameter sent twice is refused (RFC 6749
/// §3.1, §3.2).
#[derive(Default)]
pub(super) struct Form(BTreeMap<String, String>);

impl Form {
    /// Parses `bytes`; `Err` names the repeated parameter.
    pub(super) fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(bytes) {
            if map.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                return Err(format!("Duplicate parameter: {}", printable(&k)));
            }
        }
        Ok(Self(map))
    }

    /// The parameter's value; empty values count as absent.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Percent-decoding as Java's `URLDecoder` (and so UAA) does it: `+` is a space; a malformed
/// escape or invalid UTF-8 is an error.
pub(super) fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn url_decoding_follows_java() {
        assert_eq!(url_decode("a%2Bb+c%24").unwrap(), "a+b c$");
        assert_eq!(url_decode("sb-bridge%21t1").unwrap(), "sb-bridge!t1");
        assert!(url_decode("%zz").is_none());
        assert!(url_decode("%2").is_none());
        assert!(url_decode("%ff").is_none(), "invalid UTF-8");
    }

    #[test]
    fn forms_refuse_repeated_parameters() {
        assert!(Form::parse(b"a=1&b=2").is_ok());
        assert_eq!(
            Form::parse(b"a=1&a=2").err().unwrap(),
            "Duplicate parameter: a"
        );
        assert_eq!(Form::parse(b"a=&b=2").unwrap().get("a"), None);
    }
}
