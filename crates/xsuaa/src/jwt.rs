//! Strict decoding of compact JWS tokens: `header.payload.signature`, each part base64url
//! without padding, header and payload JSON objects. No signature checking and no claim
//! checking happen here; [`crate::validate`] does both.
//!
//! Written by hand instead of using the `jsonwebtoken` crate, for two reasons:
//!
//! - We must reach exactly the verdicts of `@sap/xssec` 4, in its order (`exp`, `nbf`,
//!   audience, then `kid`, key and algorithm; docs/protocols.md §XSUAA token validation),
//!   including ES512, which `jsonwebtoken` does not support, and including xssec's audience
//!   rule. A general-purpose library decides the order and the error kinds itself.
//! - We want to be *stricter* than xssec on malformed input, and to never panic on it. xssec
//!   accepts a trailing extra segment, padded or non-base64url parts and throws internal errors
//!   (HTTP 500) on a two-part token or a `null` header. Here every one of those is
//!   [`ValidationError::Malformed`] (401), and anything over 16 KiB is refused before decoding
//!   ([`ValidationError::Oversized`]), as XSUAA tokens must stay below 16 KB.
//!
//! The whole input is checked: exactly three parts, only the base64url alphabet, no `=`, no
//! non-canonical trailing bits, UTF-8 JSON objects in the first two parts.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::ValidationError;

/// Largest token accepted, in bytes (16 KiB). XSUAA tokens must stay below 16 KB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The JOSE header of a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// `alg`, as written (case is preserved; the validator compares ignoring case).
    pub alg: String,
    /// `kid`, the signing key's id.
    pub kid: Option<String>,
    /// `jku`, the key set URL the token claims. Never used to fetch keys.
    pub jku: Option<String>,
    /// `typ`, usually `JWT`.
    pub typ: Option<String>,
    /// Every other header member, e.g. `jid`.
    pub extra: Map<String, Value>,
}

/// A decoded, not yet validated, token.
#[derive(Clone)]
pub struct Decoded {
    /// The header.
    pub header: Header,
    /// The payload's claims.
    pub claims: Map<String, Value>,
    /// The signed text: the first two parts and the dot between them, as received.
    pub signing_input: String,
    /// The signature bytes (empty for an unsigned `alg: none` token).
    pub signature: Vec<u8>,
}

impl fmt::Debug for Decoded {
    /// Shows the header and the claim names, never the token text or the claim values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoded")
            .field("header", &self.header)
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .field("signature_len", &self.signature.len())
            .finish_non_exhaustive()
    }
}

/// Decodes a compact JWS strictly; see the module documentation for the rules.
pub fn decode(token: &str) -> Result<Decoded, ValidationError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(ValidationError::Oversized);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ValidationError::Malformed(
            "a token has exactly three dot-separated parts",
        ));
    };
    let header = b64(header_b64, "header is not unpadded base64url")?;
    let payload = b64(payload_b64, "payload is not unpadded base64url")?;
    let signature = b64(signature_b64, "signature is not unpadded base64url")?;
    let header = json_object(&header, "header is not a JSON object")?;
    let claims = json_object(&payload, "payload is not a JSON object")?;
    Ok(Decoded {
        header: parse_header(header)?,
        claims,
        signing_input: token[..header_b64.len() + 1 + payload_b64.len()].to_owned(),
        signature,
    })
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, ValidationError> {
    // The engine refuses `=` padding, characters outside the URL-safe alphabet and
    // non-canonical final symbols, so each token has exactly one accepted spelling.
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ValidationError::Malformed(what))
}

fn json_object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, ValidationError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ValidationError::Malformed(what)),
    }
}

fn parse_header(mut map: Map<String, Value>) -> Result<Header, ValidationError> {
    let alg = match map.remove("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(ValidationError::Malformed("header alg is not a string")),
        None => return Err(ValidationError::Malformed("header has no alg")),
    };
    let kid = optional_string(&mut map, "kid", "header kid is not a string")?;
    let jku = optional_string(&mut map, "jku", "header jku is not a string")?;
    let typ = optional_string(&mut map, "typ", "header typ is not a string")?;
    Ok(Header {
        alg,
        kid,
        jku,
        typ,
        extra: map,
    })
}

fn optional_string(
    map: &mut Map<String, Value>,
    name: &str,
    what: &'static str,
) -> Result<Option<String>, ValidationError> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ValidationError::Malformed(what)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn enc(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", enc(header), enc(payload), enc("sig"))
    }

    #[test]
    fn decodes_a_well_formed_token() {
        let t = token(
            r#"{"alg":"RS256","kid":"k1","jku":"https://x/token_keys","typ":"JWT","jid":"j"}"#,
            r#"{"sub":"me","exp":1}"#,
        );
        let d = decode(&t).unwrap();
        assert_eq!(d.header.alg, "RS256");
        assert_eq!(d.header.kid.as_deref(), Some("k1"));
        assert_eq!(d.header.jku.as_deref(), Some("https://x/token_keys"));
        assert_eq!(d.header.typ.as_deref(), Some("JWT"));
        assert_eq!(d.header.extra["jid"], "j");
        assert_eq!(d.claims["sub"], "me");
        assert_eq!(d.signature, b"sig");
        assert_eq!(d.signing_input, t.rsplit_once('.').unwrap().0);
        let debug = format!("{d:?}");
        assert!(
            !debug.contains(&t[..20]) && !debug.contains("\"me\""),
            "{debug}"
        );
    }

    #[test]
    fn refuses_malformed_input() {
        let good = token(r#"{"alg":"RS256"}"#, "{}");
        let cases = [
            String::new(),
            "a".into(),
            "a.b".into(),
            format!("{good}.extra"),
            format!("{good}."),
            format!(
                "{}=.{}",
                enc(r#"{"alg":"RS256"}"#),
                good.split_once('.').unwrap().1
            ),
            good.replacen('.', ".+", 1),
            good.replace('.', " ."),
            token("null", "{}"),
            token("[]", "{}"),
            token(r#"{"alg":"RS256"}"#, "null"),
            token(r#"{"alg":"RS256"}"#, "\"text\""),
            token(r#"{"alg":"RS256"}"#, "{"),
            token("{}", "{}"),
            token(r#"{"alg":null}"#, "{}"),
            token(r#"{"alg":"RS256","kid":7}"#, "{}"),
            format!("{}.{}.sig", enc("\u{0}"), enc("{}")),
            // Non-canonical trailing bits: "QR" decodes like "QQ" in lax decoders.
            format!("{}.{}.QR", enc(r#"{"alg":"RS256"}"#), enc("{}")),
        ];
        for case in cases {
            assert!(
                matches!(decode(&case), Err(ValidationError::Malformed(_))),
                "{case:?} → {:?}",
                decode(&case)
            );
        }
    }

    #[test]
    fn refuses_oversized_before_decoding() {
        let t = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(decode(&t).unwrap_err(), ValidationError::Oversized);
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(matches!(
            decode(&token(r#"{"alg":"RS256"}"#, &deep)),
            Err(ValidationError::Malformed(_) | ValidationError::Oversized)
        ));
    }

    #[test]
    fn accepts_an_empty_signature_part() {
        let t = format!("{}.{}.", enc(r#"{"alg":"none"}"#), enc("{}"));
        assert!(decode(&t).unwrap().signature.is_empty());
    }
}
