//! The client's checksum of an upload, and the hex and header forms of ours.
//!
//! - `Content-Digest` / `Repr-Digest` (RFC 9530 §2–3): a Structured Fields dictionary
//!   (RFC 8941) of algorithm = byte sequence; we read `sha-256=:<base64>:` and ignore other
//!   algorithms. A header without `sha-256` means there is nothing to check; a malformed
//!   `sha-256` member is an error.
//! - `x-amz-checksum-sha256: <base64>` (S3's header, which AWS SDKs send).
//!
//! Both given and different: an error (the client contradicts itself).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::Error;

/// The SHA-256 a client declared for its upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDigest;

impl ClientDigest {
    /// The declared SHA-256 from the headers, if any.
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
                header: "x-amz-checksum-sha256",
                reason: "is not the base64 of 32 bytes",
            })?),
            None => None,
        };
        match (from_sf, from_amz) {
            (Some(a), Some(b)) if a != b => Err(Error::Digest {
                header: "Content-Digest",
                reason: "disagrees with x-amz-checksum-sha256",
            }),
            (a, b) => Ok(a.or(b)),
        }
    }
}

fn dictionary_sha256(value: &str) -> Result<Option<[u8; 32]>, Error> {
    let bad = Error::Digest {
        header: "Content-Digest",
        reason: "the sha-256 member is not :<base64 of 32 bytes>:",
    };
    for member in value.split(',') {
        let Some((name, v)) = member.split_once('=') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("sha-256") {
            continue;
        }
        let v = v.trim();
        // Parameters after the byte sequence (`;x=y`) are allowed by RFC 8941 and ignored.
        let v = v.split(';').next().unwrap_or("");
        let inner = v
            .strip_prefix(':')
            .and_then(|s| s.strip_suffix(':'))
            .ok_or_else(|| bad.clone())?;
        return decode(inner).map(Some).ok_or(bad);
    }
    Ok(None)
}

fn decode(b64: &str) -> Option<[u8; 32]> {
    STANDARD.decode(b64).ok()?.try_into().ok()
}

/// Lower-case hex.
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
    for (i, pair) in text.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        *out.get_mut(i)? = u8::from_str_radix(s, 16).ok()?;
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

    const HELLO: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";

    #[test]
    fn reads_both_headers() {
        let h = decode(HELLO).unwrap();
        let sf = format!("sha-512=:AAAA:, sha-256=:{HELLO}:");
        assert_eq!(ClientDigest::from_headers(Some(&sf), None), Ok(Some(h)));
        assert_eq!(ClientDigest::from_headers(None, Some(HELLO)), Ok(Some(h)));
        assert_eq!(
            ClientDigest::from_headers(Some(&format!("sha-256=:{HELLO}:")), Some(HELLO)),
            Ok(Some(h))
        );
        assert_eq!(
            ClientDigest::from_headers(Some("md5=:AAAA:"), None),
            Ok(None)
        );
        assert_eq!(ClientDigest::from_headers(None, None), Ok(None));
        for bad in ["sha-256=abc", "sha-256=:!!:", "sha-256=:AAAA:"] {
            assert!(
                ClientDigest::from_headers(Some(bad), None).is_err(),
                "{bad}"
            );
        }
        assert!(ClientDigest::from_headers(None, Some("AAAA")).is_err());
        let other = STANDARD.encode([7u8; 32]);
        assert!(
            ClientDigest::from_headers(Some(&format!("sha-256=:{other}:")), Some(HELLO)).is_err()
        );
        assert_eq!(content_digest_header(&h), format!("sha-256=:{HELLO}:"));
        assert_eq!(parse_hex(&hex(&h)), Some(h));
        assert_eq!(parse_hex(&hex(&h).to_uppercase()), Some(h));
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_hex(&"g".repeat(64)), None);
    }
}
