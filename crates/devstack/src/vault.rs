//! Encryption at rest for the dev stack's stored secrets.
//!
//! A 256-bit master key is created on first start (`master.key`, mode 0600) and every store
//! file is sealed with AES-256-GCM under it: `BRIDGEV1` magic, a random 96-bit nonce, then the
//! ciphertext and tag. This keeps credentials out of plain sight on disk (backups, `grep`,
//! editors) the way the real Credential Store keeps them encrypted; it is not meant to resist
//! someone who can read the master key file.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

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
                .map_err(|_| DevError::Tls("no randomness".into()))?;
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
            .map_err(|_| DevError::Tls("no randomness".into()))?;
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(MAGIC),
                &mut body,
            )
            .map_err(|_| DevError::Tls("sealing failed".into()))?;
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
}
