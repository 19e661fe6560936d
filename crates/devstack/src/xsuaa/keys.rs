//! Signing keys of the local XSUAA: RSA 2048 key pairs signing RS256, with XSUAA-style key ids
//! (`default-jwt-key--<digits>`), sealed at rest in `xsuaa/keys.bin`.
//!
//! Rotation makes a new key active; the previous one stays published in `/token_keys` for the
//! grace period, so tokens it signed keep verifying, and is dropped after that. Retirement
//! times are wall-clock milliseconds and are persisted, so a restart keeps the grace period.
//! JWKS entries carry `n` with a leading zero byte and a PEM `value`, as real XSUAA's do.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::error::Unspecified;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::error::DevError;
use crate::vault::Vault;

/// One signing key with its published forms.
pub(super) struct SigningKey {
    pub(super) kid: String,
    pair: RsaKeyPair,
    pkcs8: Vec<u8>,
    created_ms: i64,
    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`, 64-character lines).
    pub(super) pem: String,
    /// The JWKS entry.
    jwk: serde_json::Value,
}

impl SigningKey {
    fn generate(taken: &[String]) -> Result<Self, DevError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| DevError::Crypto {
            what: "RSA key generation",
        })?;
        let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(&pair)
            .map_err(|_| DevError::Crypto {
                what: "RSA key encoding",
            })?
            .as_ref()
            .to_vec();
        let kid = loop {
            let mut b = [0u8; 4];
            super::random_fill(&mut b);
            let digits = u32::from_le_bytes(b) % 2_000_000_000 + 10_000_000;
            let kid = format!("default-jwt-key--{digits}");
            if !taken.contains(&kid) {
                break kid;
            }
        };
        Self::from_parts(kid, pair, pkcs8, now_ms()).map_err(|_| DevError::Crypto {
            what: "RSA key encoding",
        })
    }

    fn from_stored(stored: &StoredKey, path: &Path) -> Result<Self, DevError> {
        let corrupt = |reason: &str| DevError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let pkcs8 = STANDARD
            .decode(&stored.pkcs8)
            .map_err(|_| corrupt("a signing key is not base64"))?;
        let pair = RsaKeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| corrupt("a signing key is not an RSA PKCS#8 key"))?;
        Self::from_parts(stored.kid.clone(), pair, pkcs8, stored.created_ms)
            .map_err(|_| corrupt("a signing key cannot be encoded"))
    }

    fn from_parts(
        kid: String,
        pair: RsaKeyPair,
        pkcs8: Vec<u8>,
        created_ms: i64,
    ) -> Result<Self, Unspecified> {
        let public = pair.public_key();
        let spki = AsDer::<PublicKeyX509Der>::as_der(public)?;
        let pem = pem("PUBLIC KEY", spki.as_ref());
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(public);
        let jwk = serde_json::json!({
            "kty": "RSA",
            "e": URL_SAFE_NO_PAD.encode(&components.e),
            "use": "sig",
            "kid": kid,
            "alg": "RS256",
            "value": pem,
            "n": URL_SAFE_NO_PAD.encode(der_integer(&components.n)),
        });
        Ok(Self {
            kid,
            pair,
            pkcs8,
            created_ms,
            pem,
            jwk,
        })
    }

    /// The RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature of `message`.
    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Unspecified> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message,
            &mut signature,
        )?;
        Ok(signature)
    }
}

/// The bytes of a positive big-endian integer as DER (and Java's `BigInteger.toByteArray`)
/// write it: with a leading zero byte when the top bit is set. Real XSUAA's `n` looks so.
fn der_integer(unsigned: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(unsigned.len() + 1);
    if unsigned.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(unsigned);
    out
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----"));
    out
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    pkcs8: String,
    created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_ms: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct StoredRing {
    /// The active key first.
    keys: Vec<StoredKey>,
}

/// The active key and the rotated-out keys, with when they were retired.
struct Ring {
    active: Arc<SigningKey>,
    retired: Vec<(Arc<SigningKey>, i64)>,
}

/// The active key and the rotated-out keys still in their grace period.
pub(super) struct KeyRing {
    path: PathBuf,
    grace_ms: i64,
    ring: RwLock<Ring>,
}

impl KeyRing {
    /// Loads the keys sealed at `path`, or creates the first key there.
    pub(super) fn open(vault: &Vault, path: &Path, grace: Duration) -> Result<Self, DevError> {
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let stored: StoredRing = vault.load_or_create_json(path, || {
            let first = Ring {
                active: Arc::new(SigningKey::generate(&[])?),
                retired: Vec::new(),
            };
            Ok(StoredRing::of(&first))
        })?;
        let mut keys = stored.keys.iter();
        let Some(active) = keys.next() else {
            return Err(DevError::Corrupt {
                path: path.to_path_buf(),
                reason: "no signing key".into(),
            });
        };
        let ring = Ring {
            active: Arc::new(SigningKey::from_stored(active, path)?),
            retired: keys
                .map(|k| {
                    Ok((
                        Arc::new(SigningKey::from_stored(k, path)?),
                        k.retired_ms.unwrap_or(k.created_ms),
                    ))
                })
                .collect::<Result<Vec<_>, DevError>>()?,
        };
        Ok(Self {
            path: path.to_path_buf(),
            grace_ms,
            ring: RwLock::new(ring),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    fn in_grace(&self, retired_ms: i64, now: i64) -> bool {
        now.saturating_sub(retired_ms) < self.grace_ms
    }

    /// The key new tokens are signed with.
    pub(super) fn active(&self) -> Arc<SigningKey> {
        self.read().active.clone()
    }

    /// The published key `kid`.
    pub(super) fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.published().into_iter().find(|k| k.kid == kid)
    }

    /// The keys `/token_keys` publishes now: the active one, then those in their grace period.
    pub(super) fn published(&self) -> Vec<Arc<SigningKey>> {
        let now = now_ms();
        let ring = self.read();
        std::iter::once(ring.active.clone())
            .chain(
                ring.retired
                    .iter()
                    .filter(|(_, at)| self.in_grace(*at, now))
                    .map(|(k, _)| k.clone()),
            )
            .collect()
    }

    /// The `/token_keys` document.
    pub(super) fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self.published().iter().map(|k| k.jwk.clone()).collect();
        serde_json::json!({ "keys": keys })
    }

    /// Generates a new active key, retires the current one and forgets keys past their grace
    /// period. Returns the new `kid`.
    pub(super) fn rotate(&self, vault: &Vault) -> Result<String, DevError> {
        let taken: Vec<String> = {
            let ring = self.read();
            std::iter::once(&ring.active)
                .chain(ring.retired.iter().map(|(k, _)| k))
                .map(|k| k.kid.clone())
                .collect()
        };
        // Key generation takes a while: do it outside the lock.
        let fresh = Arc::new(SigningKey::generate(&taken)?);
        let kid = fresh.kid.clone();
        let mut ring = self.ring.write().unwrap_or_else(|e| e.into_inner());
        let now = now_ms();
        let mut retired = vec![(ring.active.clone(), now)];
        retired.extend(
            ring.retired
                .iter()
                .filter(|(_, at)| self.in_grace(*at, now))
                .cloned(),
        );
        let next = Ring {
            active: fresh,
            retired,
        };
        vault.seal_json(&self.path, &StoredRing::of(&next))?;
        *ring = next;
        Ok(kid)
    }
}

impl StoredRing {
    /// The sealed form of `ring`.
    fn of(ring: &Ring) -> Self {
        let stored = |key: &SigningKey, retired_ms: Option<i64>| StoredKey {
            kid: key.kid.clone(),
            pkcs8: STANDARD.encode(&key.pkcs8),
            created_ms: key.created_ms,
            retired_ms,
        };
        StoredRing {
            keys: std::iter::once(stored(&ring.active, None))
                .chain(ring.retired.iter().map(|(k, at)| stored(k, Some(*at))))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn der_integers_get_a_leading_zero_only_when_the_top_bit_is_set() {
        assert_eq!(der_integer(&[0x80, 1]), [0, 0x80, 1]);
        assert_eq!(der_integer(&[0x7f, 1]), [0x7f, 1]);
    }

    #[test]
    fn jwk_shape_and_signatures_verify_with_the_published_numbers() {
        let key = SigningKey::generate(&[]).unwrap();
        assert!(key.kid.starts_with("default-jwt-key--"));
        assert!(
            key.kid["default-jwt-key--".len()..]
                .chars()
                .all(|c| c.is_ascii_digit())
        );
        let n = URL_SAFE_NO_PAD
            .decode(key.jwk["n"].as_str().unwrap())
            .unwrap();
        assert_eq!(n.len(), 257, "2048-bit modulus plus the leading zero");
        assert_eq!(n[0], 0);
        assert_eq!(key.jwk["e"], "AQAB");
        assert!(key.pem.starts_with("-----BEGIN PUBLIC KEY-----\nMIIB"));
        let sig = key.sign(b"hello").unwrap();
        RsaPublicKeyComponents {
            n: &n[1..],
            e: &[1u8, 0, 1][..],
        }
        .verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            b"hello",
            &sig,
        )
        .unwrap();
    }
}
