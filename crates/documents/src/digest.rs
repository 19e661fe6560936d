//! The client's checksum of an upload, and the hex and header forms of ours.
//!
//! - `Content-Digest` / `Repr-Digest` (RFC 9530 §2–3): a Structured Fields dictionary
//!   (RFC 8941 §3.2, RFC 9651) of algorithm = byte sequence. We read `sha-256=:<base64>:` and
//!   skip the other algorithms: a header without `sha-256` means there is nothing to check.
//!   A `sha-256` member that is not the base64 of 32 bytes is an error, and so is a value
//!   that is not a dictionary at all (a client that meant to send a checksum should hear
//!   that we could not read it). Where RFC 8941 is strict we are lenient in two places: keys
//!   are compared case-insensitively (`SHA-256`), and base64 padding may be missing (as its
//!   §4.2.7 advises). A key given twice counts with its last value (§4.2.2).
//! - `x-amz-checksum-sha256: <base64>` (S3's header, which AWS SDKs send).
//!
//! Both given and different: an error (the client contradicts itself).

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

use crate::error::Error;

/// Standard base64 that does not insist on padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const CONTENT_DIGEST: &str = "Content-Digest";
const AMZ: &str = "x-amz-checksum-sha256";

/// The SHA-256 a client declared for its upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDigest;

impl ClientDigest {
    /// The declared SHA-256 from the headers, if any: `content_digest` is the value of
    /// `Content-Digest` (or `Repr-Digest`), `amz_checksum_sha256` that of
    /// `x-amz-checksum-sha256`.
    pub fn from_headers(
        content_digest: Option<&str>,
        amz_checksum_sha256: Option<&str>,
    ) -> Result<Option<[u8; 32]>, Error> {
        let from_sf = match content_digest {
            Some(v) => dictionary_sha256(v)?,
            None => None,
        };
        let from_amz = match amz_checksum_sha256 {
            Some(v) => Some(decode(v.trim()).ok_or(Error::Digest {
                header: AMZ,
                reason: "is not the base64 of 32 bytes",
            })?),
            None => None,
        };
        match (from_sf, from_amz) {
            (Some(a), Some(b)) if a != b => Err(Error::Digest {
                header: CONTENT_DIGEST,
                reason: "disagrees with x-amz-checksum-sha256",
            }),
            (a, b) => Ok(a.or(b)),
        }
    }
}

/// The `sha-256` member of a dictionary, if there is one.
fn dictionary_sha256(value: &str) -> Result<Option<[u8; 32]>, Error> {
    let malformed = Error::Digest {
        header: CONTENT_DIGEST,
        reason: "is not a Structured Fields dictionary (RFC 8941)",
    };
    let members = Parser::new(value).dictionary().ok_or(malformed)?;
    match members.into_iter().rev().find(|(k, _)| k == "sha-256") {
        None => Ok(None),
        Some((_, Some(bytes))) => bytes.try_into().map(Some).map_err(|_| bad_sha256()),
        Some((_, None)) => Err(bad_sha256()),
    }
}

fn bad_sha256() -> Error {
    Error::Digest {
        header: CONTENT_DIGEST,
        reason: "the sha-256 member is not :<base64 of 32 bytes>:",
    }
}

fn decode(b64: &str) -> Option<[u8; 32]> {
    LENIENT.decode(b64).ok()?.try_into().ok()
}

/// Just enough of RFC 8941 §4.2 to walk a dictionary: every member's key (lower-cased) and,
/// when its value is a byte sequence, the bytes. `None` when the text is not a dictionary.
struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        let s = s.trim_matches([' ', '\t']).as_bytes();
        Self { s, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn skip(&mut self, ws: &[u8]) {
        while self.peek().is_some_and(|b| ws.contains(&b)) {
            self.at += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.at;
        while self.peek().is_some_and(&f) {
            self.at += 1;
        }
        self.s.get(start..self.at).unwrap_or(&[])
    }

    fn dictionary(&mut self) -> Option<Vec<(String, Option<Vec<u8>>)>> {
        let mut members = Vec::new();
        if self.s.is_empty() {
            return Some(members);
        }
        loop {
            let key = self.key()?;
            let bytes = if self.eat(b'=') {
                if self.peek() == Some(b'(') {
                    self.inner_list()?;
                    None
                } else {
                    self.item()?
                }
            } else {
                self.parameters()?;
                None
            };
            members.push((key, bytes));
            self.skip(b" \t");
            if self.peek().is_none() {
                return Some(members);
            }
            if !self.eat(b',') {
                return None;
            }
            self.skip(b" \t");
            // A trailing comma is an error (§4.2.2).
            self.peek()?;
        }
    }

    /// A key; upper case letters are accepted and lowered.
    fn key(&mut self) -> Option<String> {
        let first = self.peek()?;
        if !(first.is_ascii_alphabetic() || first == b'*') {
            return None;
        }
        let key = self.take_while(|b| b.is_ascii_alphanumeric() || b"_-.*".contains(&b));
        Some(String::from_utf8_lossy(key).to_ascii_lowercase())
    }

    fn parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip(b" ");
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Some(())
    }

    /// An item: its bytes when it is a byte sequence.
    fn item(&mut self) -> Option<Option<Vec<u8>>> {
        let bytes = self.bare_item()?;
        self.parameters()?;
        Some(bytes)
    }

    fn inner_list(&mut self) -> Option<()> {
        self.eat(b'(').then_some(())?;
        loop {
            self.skip(b" ");
            if self.eat(b')') {
                return self.parameters();
            }
            self.item()?;
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return None;
            }
        }
    }

    fn bare_item(&mut self) -> Option<Option<Vec<u8>>> {
        match self.peek()? {
            b':' => {
                self.at += 1;
                let b64 = self.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                let bytes = LENIENT.decode(b64).ok()?;
                self.eat(b':').then_some(Some(bytes))
            }
            b'"' => self.string().map(|()| None),
            b'%' => {
                // A display string (RFC 9651 §3.3.8): `%"` and percent-encoded UTF-8.
                self.at += 1;
                self.string().map(|()| None)
            }
            b'?' => {
                self.at += 1;
                (self.eat(b'0') || self.eat(b'1')).then_some(None)
            }
            b'@' | b'-' | b'0'..=b'9' => {
                self.eat(b'@');
                self.eat(b'-');
                let int = self.take_while(|b| b.is_ascii_digit());
                if int.is_empty() || int.len() > 15 {
                    return None;
                }
                if self.eat(b'.') {
                    let frac = self.take_while(|b| b.is_ascii_digit());
                    if frac.is_empty() || frac.len() > 3 || int.len() > 12 {
                        return None;
                    }
                }
                Some(None)
            }
            b if b.is_ascii_alphabetic() || b == b'*' => {
                self.take_while(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b));
                Some(None)
            }
            _ => None,
        }
    }

    /// A quoted string of printable ASCII with `\"` and `\\` escapes.
    fn string(&mut self) -> Option<()> {
        self.eat(b'"').then_some(())?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                b'\\' => {
                    self.at += 1;
                    matches!(self.peek()?, b'"' | b'\\').then_some(())?;
                    self.at += 1;
                }
                0x20..=0x7e => self.at += 1,
                _ => return None,
            }
        }
    }
}

/// Lower-case hex, as `sha256` is stored and sent.
pub fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits (either case) back to bytes.
pub fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(text.chunks(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *slot = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The `Repr-Digest`/`Content-Digest` value for a SHA-256: `sha-256=:<base64>:`.
pub fn content_digest_header(hash: &[u8; 32]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-256 of "hello world".
    const HELLO: &str = "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";

    fn hello() -> [u8; 32] {
        decode(HELLO).expect("32 bytes")
    }

    #[test]
    fn reads_both_headers() {
        let h = hello();
        let both = |sf: &str, amz: Option<&str>| ClientDigest::from_headers(Some(sf), amz);
        for sf in [
            format!("sha-256=:{HELLO}:"),
            format!("sha-512=:AAAA:, sha-256=:{HELLO}:"),
            format!("  sha-256=:{HELLO}:;alg=x  "),
            format!("SHA-256=:{}:", HELLO.trim_end_matches('=')),
            format!("md5=\"a,sha-256=:AAAA:\", sha-256=:{HELLO}:, unixsum=30637"),
            format!("sha-256=:AAAA:, sha-256=:{HELLO}:"),
            format!("list=(a \"b\" ?1);p, sha-256=:{HELLO}:, t=@1659578233, d=-1.5, f"),
        ] {
            assert_eq!(both(&sf, None), Ok(Some(h)), "{sf}");
        }
        assert_eq!(ClientDigest::from_headers(None, Some(HELLO)), Ok(Some(h)));
        assert_eq!(
            both(&format!("sha-256=:{HELLO}:"), Some(HELLO)),
            Ok(Some(h))
        );
        // Other algorithms only: nothing to check.
        for none in ["md5=:AAAA:", "sha-512=:AAAA:, id-sha-256=:AAAA:", ""] {
            assert_eq!(both(none, None), Ok(None), "{none}");
        }
        assert_eq!(ClientDigest::from_headers(None, None), Ok(None));
        for bad in [
            "sha-256=abc",
            "sha-256=:!!:",
            "sha-256=:AAAA:",
            "sha-256",
            "sha-256=:AAAA",
            "sha-256=:x:, ",
            "=:AAAA:",
            "sha-256=:AAAA: junk",
            "a=\"unterminated",
            "a=(b",
        ] {
            assert!(both(bad, None).is_err(), "{bad}");
        }
        assert_eq!(
            both("sha-256=:AAAA:", None),
            Err(Error::Digest {
                header: "Content-Digest",
                reason: "the sha-256 member is not :<base64 of 32 bytes>:"
            })
        );
        assert!(ClientDigest::from_headers(None, Some("AAAA")).is_err());
        let other = STANDARD.encode([7u8; 32]);
        let e = both(&format!("sha-256=:{other}:"), Some(HELLO)).expect_err("disagree");
        assert_eq!(
            e.to_string(),
            "Content-Digest: disagrees with x-amz-checksum-sha256"
        );
    }

    #[test]
    fn hex_and_header_forms() {
        let h = hello();
        assert_eq!(
            hex(&h),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(content_digest_header(&h), format!("sha-256=:{HELLO}:"));
        assert_eq!(parse_hex(&hex(&h)), Some(h));
        assert_eq!(parse_hex(&hex(&h).to_uppercase()), Some(h));
        for bad in [
            "zz",
            "",
            &"g".repeat(64),
            &format!("+{}", &hex(&h)[1..]),
            &"ä".repeat(32),
        ] {
            assert_eq!(parse_hex(bad), None, "{bad}");
        }
    }

    /// Random headers never panic, and our own header form always reads back.
    #[test]
    fn random_headers() {
        let pieces = [
            "sha-256", "=", ":", "AAAA", HELLO, ",", " ", ";", "\"", "\\", "(", ")", "?1", "@",
            "-", "1.5", "a", "%", "*", "é", "\t",
        ];
        let mut rng = fastrand::Rng::with_seed(13);
        for _ in 0..20_000 {
            let s: String = (0..rng.usize(0..12))
                .map(|_| pieces[rng.usize(..pieces.len())])
                .collect();
            let _ = ClientDigest::from_headers(Some(&s), Some(&s));
            let mut hash = [0u8; 32];
            rng.fill(&mut hash);
            let header = content_digest_header(&hash);
            assert_eq!(
                ClientDigest::from_headers(Some(&header), None),
                Ok(Some(hash))
            );
            assert_eq!(parse_hex(&hex(&hash)), Some(hash));
        }
    }
}
