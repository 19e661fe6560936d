//! JWE compact serialization for Credential Store payloads: `RSA-OAEP-256` key management
//! with `A256GCM` content encryption, and the store's `iat` header rule.
//!
//! Written by hand on top of `aws-lc-rs` rather than with a JOSE crate: the JOSE crates that
//! implement RSA-OAEP-256 either link OpenSSL (josekit), which breaks the static builds we ship
//! to Cloud Foundry and Lambda, or use the `rsa` crate, whose decryption is not constant-time
//! (RUSTSEC-2023-0071), which matters exactly here. The format itself is small (RFC 7516 §7.1)
//! and we need one algorithm pair; anything else is refused. Interop with an independent
//! implementation (the npm `jose` package) is tested by `cargo xtask ci`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// The only key-management algorithm the Credential Store accepts.
pub const ALG: &str = "RSA-OAEP-256";
/// The only content-encryption algorithm the Credential Store accepts.
pub const ENC: &str = "A256GCM";
/// The `Content-Type` of encrypted requests.
pub const CONTENT_TYPE: &str = "application/jose";

const TAG_LEN: usize = 16;
const CEK_LEN: usize = 32;
/// Larger inputs are refused before any decoding, so a hostile peer cannot make us allocate.
const MAX_COMPACT_LEN: usize = 1 << 20;

/// Why a JWE could not be built or opened. Never carries key material or plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JweError {
    /// Not five base64url parts, or a part does not decode.
    #[error("malformed JWE: {0}")]
    Malformed(&'static str),
    /// The protected header names an algorithm pair other than RSA-OAEP-256 / A256GCM.
    #[error("unsupported JWE algorithms alg={alg:?} enc={enc:?} (only RSA-OAEP-256 with A256GCM)")]
    UnsupportedAlgorithm {
        /// The header's `alg`.
        alg: String,
        /// The header's `enc`.
        enc: String,
    },
    /// The protected header has no numeric `iat`.
    #[error("JWE protected header has no `iat`")]
    MissingIat,
    /// The `iat` is older than the allowed window.
    #[error("JWE `iat` is {age_secs} s old (at most {max_secs} s allowed)")]
    IatExpired {
        /// How old the `iat` is.
        age_secs: i64,
        /// The allowed age.
        max_secs: i64,
    },
    /// The `iat` lies further in the future than the allowed clock skew.
    #[error("JWE `iat` is {ahead_secs} s in the future")]
    IatInFuture {
        /// How far ahead the `iat` is.
        ahead_secs: i64,
    },
    /// The content key or the content did not decrypt: wrong key or tampered data.
    #[error("JWE decryption failed (wrong key or tampered payload)")]
    Decryption,
    /// A key is not a usable RSA key (bad DER, wrong size).
    #[error("invalid RSA key: {0}")]
    InvalidKey(&'static str),
}

/// How strictly a receiver checks the `iat` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IatPolicy {
    /// Oldest acceptable `iat`, in seconds before now.
    pub max_age_secs: i64,
    /// Largest acceptable clock skew into the future, in seconds.
    pub max_future_secs: i64,
}

impl IatPolicy {
    /// The Credential Store's rule for requests: `iat` at most 2 minutes old.
    pub const REQUEST: IatPolicy = IatPolicy {
        max_age_secs: 120,
        max_future_secs: 60,
    };
    /// Our client's rule for responses: `iat` required, lenient window for clock skew between
    /// the app and the store, tight enough that a replayed old response is refused.
    pub const RESPONSE: IatPolicy = IatPolicy {
        max_age_secs: 600,
        max_future_secs: 600,
    };
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    enc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<serde_json::Value>,
}

/// A recipient's public key (X.509 SubjectPublicKeyInfo), for encrypting to it.
pub struct PublicKey(OaepPublicEncryptingKey);

impl PublicKey {
    /// Parses bare base64 DER, as in the binding's `server_public_key`.
    pub fn from_base64_der(b64: &str) -> Result<Self, JweError> {
        let der = STANDARD
            .decode(strip_ws(b64))
            .map_err(|_| JweError::InvalidKey("public key is not base64"))?;
        Self::from_der(&der)
    }

    /// Parses DER-encoded SubjectPublicKeyInfo.
    pub fn from_der(der: &[u8]) -> Result<Self, JweError> {
        let key = PublicEncryptingKey::from_der(der)
            .map_err(|_| JweError::InvalidKey("not an RSA SubjectPublicKeyInfo"))?;
        check_size(key.key_size_bits())?;
        OaepPublicEncryptingKey::new(key)
            .map(Self)
            .map_err(|_| JweError::InvalidKey("RSA key unusable for OAEP"))
    }

    /// Encrypts `plaintext` to this key with the given `iat` (epoch seconds).
    pub fn encrypt(&self, plaintext: &[u8], iat: i64) -> Result<String, JweError> {
        let rng = SystemRandom::new();
        let header = serde_json::to_vec(&Header {
            alg: ALG.into(),
            enc: ENC.into(),
            iat: Some(iat.into()),
        })
        .map_err(|_| JweError::Malformed("header"))?;
        let header_b64 = URL_SAFE_NO_PAD.encode(header);

        let mut cek = [0u8; CEK_LEN];
        rng.fill(&mut cek).map_err(|_| JweError::Decryption)?;
        let mut wrapped = vec![0u8; self.0.ciphertext_size()];
        let wrapped = self
            .0
            .encrypt(&OAEP_SHA256_MGF1SHA256, &cek, &mut wrapped, None)
            .map_err(|_| JweError::InvalidKey("RSA-OAEP encryption failed"))?
            .to_vec();

        let mut iv = [0u8; NONCE_LEN];
        rng.fill(&mut iv).map_err(|_| JweError::Decryption)?;
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &cek).map_err(|_| JweError::Decryption)?,
        );
        let mut body = plaintext.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header_b64.as_bytes()),
                &mut body,
            )
            .map_err(|_| JweError::Decryption)?;
        Ok(format!(
            "{header_b64}.{}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(wrapped),
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(body),
            URL_SAFE_NO_PAD.encode(tag.as_ref()),
        ))
    }
}

/// A private key (PKCS#8), for decrypting what was encrypted to us. Not `Debug`.
pub struct PrivateKey {
    oaep: OaepPrivateDecryptingKey,
    pkcs8: Vec<u8>,
    public_der: Vec<u8>,
}

impl PrivateKey {
    /// Generates a fresh 2048-bit key pair.
    pub fn generate() -> Result<Self, JweError> {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048)
            .map_err(|_| JweError::InvalidKey("key generation failed"))?;
        Self::wrap(key)
    }

    fn wrap(key: PrivateDecryptingKey) -> Result<Self, JweError> {
        check_size(key.key_size_bits())?;
        let pkcs8: Pkcs8V1Der<'_> = key
            .as_der()
            .map_err(|_| JweError::InvalidKey("cannot encode private key"))?;
        let pkcs8 = pkcs8.as_ref().to_vec();
        let public_der: PublicKeyX509Der<'_> = key
            .public_key()
            .as_der()
            .map_err(|_| JweError::InvalidKey("cannot encode public key"))?;
        let public_der = public_der.as_ref().to_vec();
        let oaep = OaepPrivateDecryptingKey::new(key)
            .map_err(|_| JweError::InvalidKey("RSA key unusable for OAEP"))?;
        Ok(Self {
            oaep,
            pkcs8,
            public_der,
        })
    }

    /// Parses bare base64 DER PKCS#8, as in the binding's `client_private_key`.
    pub fn from_base64_der(b64: &str) -> Result<Self, JweError> {
        let der = STANDARD
            .decode(strip_ws(b64))
            .map_err(|_| JweError::InvalidKey("private key is not base64"))?;
        Self::from_pkcs8(&der)
    }

    /// Parses DER PKCS#8.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, JweError> {
        let key = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|_| JweError::InvalidKey("not an RSA PKCS#8 private key"))?;
        Self::wrap(key)
    }

    /// The private key as DER PKCS#8 (to persist it or publish it in a binding).
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, JweError> {
        Ok(self.pkcs8.clone())
    }

    /// The matching public key as bare base64 DER SubjectPublicKeyInfo.
    pub fn public_key_base64_der(&self) -> Result<String, JweError> {
        Ok(STANDARD.encode(&self.public_der))
    }

    /// The matching public key, for encrypting to this key.
    pub fn public_key(&self) -> Result<PublicKey, JweError> {
        PublicKey::from_base64_der(&self.public_key_base64_der()?)
    }

    /// Opens a compact JWE, checking the algorithms and the `iat` rule against `now`
    /// (epoch seconds). Returns the plaintext.
    pub fn decrypt(&self, compact: &str, policy: IatPolicy, now: i64) -> Result<Vec<u8>, JweError> {
        let compact = compact.trim();
        if compact.len() > MAX_COMPACT_LEN {
            return Err(JweError::Malformed("too large"));
        }
        let parts: Vec<&str> = compact.split('.').collect();
        let [header_b64, wrapped, iv, body, tag] = parts[..] else {
            return Err(JweError::Malformed("expected 5 dot-separated parts"));
        };
        let header_bytes = b64(header_b64, "protected header is not base64url")?;
        // RFC 7516 §4: the header is a JSON object. serde's derived `Deserialize` would also
        // take an array of the fields in order (found by `cargo xtask soak`, target `jwe`).
        if header_bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(JweError::Malformed("protected header is not a JSON object"));
        }
        let header: Header = serde_json::from_slice(&header_bytes)
            .map_err(|_| JweError::Malformed("protected header is not a JSON object"))?;
        if header.alg != ALG || header.enc != ENC {
            return Err(JweError::UnsupportedAlgorithm {
                alg: header.alg,
                enc: header.enc,
            });
        }
        let iat = header
            .iat
            .as_ref()
            .and_then(serde_json::Value::as_i64)
            .ok_or(JweError::MissingIat)?;
        // Saturating: `iat` is any `i64` the sender chose, and `now - i64::MIN` overflows
        // (a panic in debug builds; found by `cargo xtask soak`, target `jwe`).
        let age = now.saturating_sub(iat);
        if age > policy.max_age_secs {
            return Err(JweError::IatExpired {
                age_secs: age,
                max_secs: policy.max_age_secs,
            });
        }
        let ahead = iat.saturating_sub(now);
        if ahead > policy.max_future_secs {
            return Err(JweError::IatInFuture { ahead_secs: ahead });
        }
        let wrapped = b64(wrapped, "encrypted key is not base64url")?;
        let iv = b64(iv, "IV is not base64url")?;
        let mut body = b64(body, "ciphertext is not base64url")?;
        let tag = b64(tag, "tag is not base64url")?;
        let iv: [u8; NONCE_LEN] = iv
            .try_into()
            .map_err(|_| JweError::Malformed("IV must be 96 bits"))?;
        if tag.len() != TAG_LEN {
            return Err(JweError::Malformed("tag must be 128 bits"));
        }

        let mut cek_buf = vec![0u8; self.oaep.min_output_size()];
        let cek = self
            .oaep
            .decrypt(&OAEP_SHA256_MGF1SHA256, &wrapped, &mut cek_buf, None)
            .map_err(|_| JweError::Decryption)?;
        if cek.len() != CEK_LEN {
            return Err(JweError::Decryption);
        }
        let key =
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, cek).map_err(|_| JweError::Decryption)?);
        body.extend_from_slice(&tag);
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header_b64.as_bytes()),
                &mut body,
            )
            .map_err(|_| JweError::Decryption)?;
        Ok(plain.to_vec())
    }
}

fn check_size(bits: usize) -> Result<(), JweError> {
    if (2048..=8192).contains(&bits) {
        Ok(())
    } else {
        Err(JweError::InvalidKey("RSA key must have 2048 to 8192 bits"))
    }
}

fn strip_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Strict base64url without padding, as RFC 7515 requires.
fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, JweError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JweError::Malformed(what))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pair() -> (PrivateKey, PublicKey) {
        let sk = PrivateKey::generate().unwrap();
        let pk = sk.public_key().unwrap();
        (sk, pk)
    }

    #[test]
    fn round_trip_and_header_shape() {
        let (sk, pk) = pair();
        let jwe = pk.encrypt(br#"{"a":1}"#, 1000).unwrap();
        assert_eq!(jwe.split('.').count(), 5);
        let header = URL_SAFE_NO_PAD
            .decode(jwe.split('.').next().unwrap())
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg":"RSA-OAEP-256","enc":"A256GCM","iat":1000})
        );
        assert_eq!(
            sk.decrypt(&jwe, IatPolicy::REQUEST, 1010).unwrap(),
            br#"{"a":1}"#
        );
    }

    #[test]
    fn iat_window() {
        let (sk, pk) = pair();
        let jwe = pk.encrypt(b"x", 1000).unwrap();
        assert_eq!(
            sk.decrypt(&jwe, IatPolicy::REQUEST, 1121),
            Err(JweError::IatExpired {
                age_secs: 121,
                max_secs: 120
            })
        );
        assert!(sk.decrypt(&jwe, IatPolicy::REQUEST, 1120).is_ok());
        assert_eq!(
            sk.decrypt(&jwe, IatPolicy::REQUEST, 900),
            Err(JweError::IatInFuture { ahead_secs: 100 })
        );
    }

    #[test]
    fn iat_at_the_ends_of_i64_is_refused_not_overflowed() {
        let (sk, pk) = pair();
        let oldest = pk.encrypt(b"x", i64::MIN).unwrap();
        assert_eq!(
            sk.decrypt(&oldest, IatPolicy::RESPONSE, 1000),
            Err(JweError::IatExpired {
                age_secs: i64::MAX,
                max_secs: 600
            })
        );
        let newest = pk.encrypt(b"x", i64::MAX).unwrap();
        assert_eq!(
            sk.decrypt(&newest, IatPolicy::RESPONSE, -1000),
            Err(JweError::IatInFuture {
                ahead_secs: i64::MAX
            })
        );
    }

    #[test]
    fn a_header_that_is_not_an_object_is_malformed() {
        let (sk, pk) = pair();
        let jwe = pk.encrypt(b"x", 1000).unwrap();
        let (_, rest) = jwe.split_once('.').unwrap();
        for header in [
            r#"["RSA-OAEP-256","A256GCM",1000]"#,
            " [1]",
            "null",
            "\"x\"",
        ] {
            let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header));
            assert_eq!(
                sk.decrypt(&forged, IatPolicy::RESPONSE, 1000),
                Err(JweError::Malformed("protected header is not a JSON object")),
                "{header}"
            );
        }
        let spaced =
            URL_SAFE_NO_PAD.encode(r#" {"alg":"RSA-OAEP-256","enc":"A256GCM","iat":1000}"#);
        assert_eq!(
            sk.decrypt(&format!("{spaced}.{rest}"), IatPolicy::RESPONSE, 1000),
            Err(JweError::Decryption),
            "an object after whitespace is read (and here fails as the AAD changed)"
        );
    }

    #[test]
    fn tampering_and_wrong_key_fail_cleanly() {
        let (sk, pk) = pair();
        let jwe = pk.encrypt(b"hello world", 1000).unwrap();
        let mut parts: Vec<String> = jwe.split('.').map(str::to_owned).collect();
        // Flip one ciphertext byte.
        let mut body = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
        body[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(body);
        assert_eq!(
            sk.decrypt(&parts.join("."), IatPolicy::REQUEST, 1000),
            Err(JweError::Decryption)
        );
        // Change the header (AAD): iat moved, decryption must fail, not succeed with a new iat.
        let other = URL_SAFE_NO_PAD.encode(br#"{"alg":"RSA-OAEP-256","enc":"A256GCM","iat":1001}"#);
        let mut parts: Vec<&str> = jwe.split('.').collect();
        parts[0] = &other;
        assert_eq!(
            sk.decrypt(&parts.join("."), IatPolicy::REQUEST, 1000),
            Err(JweError::Decryption)
        );
        let (other_sk, _) = pair();
        assert_eq!(
            other_sk.decrypt(&jwe, IatPolicy::REQUEST, 1000),
            Err(JweError::Decryption)
        );
    }

    #[test]
    fn malformed_inputs() {
        let (sk, _) = pair();
        for bad in ["", "a.b.c", "a.b.c.d.e.f", "!!.a.a.a.a", "e30.a.a.a.a"] {
            assert!(
                matches!(
                    sk.decrypt(bad, IatPolicy::REQUEST, 0),
                    Err(JweError::Malformed(_) | JweError::MissingIat)
                ),
                "{bad}"
            );
        }
        let hs = URL_SAFE_NO_PAD.encode(br#"{"alg":"dir","enc":"A128GCM","iat":0}"#);
        assert!(matches!(
            sk.decrypt(&format!("{hs}.a.a.a.a"), IatPolicy::REQUEST, 0),
            Err(JweError::UnsupportedAlgorithm { .. })
        ));
        let no_iat = URL_SAFE_NO_PAD.encode(br#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#);
        assert_eq!(
            sk.decrypt(&format!("{no_iat}.a.a.a.a"), IatPolicy::REQUEST, 0),
            Err(JweError::MissingIat)
        );
    }

    #[test]
    fn keys_round_trip_through_binding_format() {
        let sk = PrivateKey::generate().unwrap();
        let b64 = STANDARD.encode(sk.to_pkcs8().unwrap());
        assert!(b64.starts_with("MII"));
        let again = PrivateKey::from_base64_der(&b64).unwrap();
        let pk = PublicKey::from_base64_der(&sk.public_key_base64_der().unwrap()).unwrap();
        let jwe = pk.encrypt(b"z", 5).unwrap();
        assert_eq!(again.decrypt(&jwe, IatPolicy::REQUEST, 5).unwrap(), b"z");
        assert!(PublicKey::from_base64_der("bm90IGEga2V5").is_err());
        assert!(PrivateKey::from_base64_der("%%%").is_err());
    }
}
