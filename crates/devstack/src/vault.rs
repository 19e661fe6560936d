//! Encryption at rest for the dev stack's stored secrets.
//!
//! A 256-bit master key is created on first start (`master.key`, mode 0600) and every store
//! file is sealed with AES-256-GCM under it: `BRIDGEV1` magic, a random 96-bit nonce, then the
//! ciphertext and tag. This keeps credentials out of plain sight on disk (backups, `grep`,
//! editors) the way the real Credential Store keeps them encrypted; it is not meant to resist
//! someone who can read the master key file.
//!
//! The stand-ins keep their state as JSON inside sealed files: [`Vault::load_or_create_json`]
//! is the one way a stand-in loads such a file on start (creating and sealing it on first
//! start), [`Vault::open_json`] and [`Vault::seal_json`] the pieces it is made of. Their errors
//! name the file, never its content.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::DevError;
use crate::files;

const MAGIC: &[u8; 8] = b"BRIDGEV1";

/// A master key and the files sealed with it.
pub struct Vault {
    key: LessSafeKey,
}

impl Vault {
    /// Loads `dir/master.key`, creating it on first use.
    pub fn open(dir: &Path) -> Result<Self, DevError> {
        let path = dir.join("master.key");
        let bytes = if path.exists() {
            files::read(&path)?
        } else {
            let mut k = vec![0u8; 32];
            SystemRandom::new()
                .fill(&mut k)
                .map_err(|_| DevError::Crypto {
                    what: "random number generation",
                })?;
            files::write_private(&path, &k)?;
            k
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| DevError::Corrupt {
            path: path.clone(),
            reason: "master key must be 32 bytes".into(),
        })?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// Seals `plain` into `path` (atomically, mode 0600).
    pub fn seal_to(&self, path: &Path, plain: &[u8]) -> Result<(), DevError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| DevError::Crypto {
                what: "random number generation",
            })?;
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(MAGIC),
                &mut body,
            )
            .map_err(|_| DevError::Crypto {
                what: "sealing a store file",
            })?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        files::write_private(path, &out)
    }

    /// Opens a file written by [`Vault::seal_to`]; `None` if it does not exist.
    pub fn open_from(&self, path: &Path) -> Result<Option<Vec<u8>>, DevError> {
        if !path.exists() {
            return Ok(None);
        }
        let data = files::read(path)?;
        let corrupt = |reason: &str| DevError::Corrupt {
            path: PathBuf::from(path),
            reason: reason.into(),
        };
        if data.len() < MAGIC.len() + NONCE_LEN || &data[..MAGIC.len()] != MAGIC {
            return Err(corrupt("not a sealed store file"));
        }
        let nonce: [u8; NONCE_LEN] = data[MAGIC.len()..MAGIC.len() + NONCE_LEN]
            .try_into()
            .map_err(|_| corrupt("short nonce"))?;
        let mut body = data[MAGIC.len() + NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(MAGIC),
                &mut body,
            )
            .map_err(|_| corrupt("does not decrypt with master.key"))?;
        Ok(Some(plain.to_vec()))
    }

    /// The value sealed at `path` as JSON, or `create`'s value, sealed there first if the file
    /// does not exist yet (on first start).
    pub fn load_or_create_json<T, F>(&self, path: &Path, create: F) -> Result<T, DevError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T, DevError>,
    {
        if let Some(value) = self.open_json(path)? {
            return Ok(value);
        }
        let value = create()?;
        self.seal_json(path, &value)?;
        Ok(value)
    }

    /// The value sealed at `path` as JSON; `None` if the file does not exist. A file that
    /// opens but does not parse is [`DevError::Corrupt`], described by position only (the
    /// plain text holds secrets).
    pub fn open_json<T: DeserializeOwned>(&self, path: &Path) -> Result<Option<T>, DevError> {
        let Some(bytes) = self.open_from(path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DevError::Corrupt {
                path: path.to_path_buf(),
                reason: cfenv::text::json_error(&e),
            })
    }

    /// Seals `value` as JSON into `path` (atomically, mode 0600).
    pub fn seal_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), DevError> {
        // serde_json only fails on a type it cannot write (a map with non-string keys), and
        // its message then names the problem, not a value.
        let bytes = serde_json::to_vec(value).map_err(|e| DevError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        self.seal_to(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn load_or_create_json_creates_once_then_loads() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let path = dir.path().join("thing.bin");
        let first: Vec<String> = vault
            .load_or_create_json(&path, || Ok(vec!["made".to_owned()]))
            .unwrap();
        assert_eq!(first, ["made"]);
        let again: Vec<String> = Vault::open(dir.path())
            .unwrap()
            .load_or_create_json(&path, || panic!("the file exists"))
            .unwrap();
        assert_eq!(again, first);
        assert!(!files::read(&path).unwrap().windows(4).any(|w| w == b"made"));
    }

    #[test]
    fn a_sealed_file_of_another_shape_is_corrupt_and_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let path = dir.path().join("thing.bin");
        vault.seal_json(&path, &["secret-value"]).unwrap();
        let err = vault
            .load_or_create_json::<Vec<u32>, _>(&path, || Ok(Vec::new()))
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(matches!(err, DevError::Corrupt { .. }), "{text}");
        assert!(
            text.contains("thing.bin") && !text.contains("secret-value"),
            "{text}"
        );
    }
}
