//! The upload inspector: fed every chunk of a body as it streams, it counts the bytes against
//! the limit (refusing the moment the count passes it, whatever `Content-Length` said), checks
//! the media type against the first [`SNIFF_LEN`] bytes (or the whole body when shorter) as
//! soon as it has them, and computes the SHA-256; [`Inspector::finish`] compares it with the
//! client's checksum. The app turns a [`Refusal`] into the error of its protocol; the message
//! is safe to send (it holds no content).

use crate::media::{MediaPolicy, Mismatch, SNIFF_LEN, sniff};

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// More bytes than the limit.
    #[error("The document is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The declared type is not accepted.
    #[error("The media type {0} is not accepted")]
    MediaTypeNotAllowed(String),
    /// The content does not fit the declared type.
    #[error("The content is not {declared}{}", found.map(|f| format!(" (it looks like {f})")).unwrap_or_default())]
    ContentMismatch {
        /// The declared type.
        declared: String,
        /// What the content looks like.
        found: Option<&'static str>,
    },
    /// No type was declared and the content's type could not be told.
    #[error("The media type is missing and cannot be told from the content; send a Content-Type")]
    UnknownType,
    /// The SHA-256 is not the one the client declared.
    #[error("The SHA-256 of the content is {actual}, the client declared {declared}")]
    ChecksumMismatch {
        /// Declared (hex).
        declared: String,
        /// Computed (hex).
        actual: String,
    },
}

impl Refusal {
    /// The HTTP status the refusal calls for: 413, 415 or 400.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooLarge { .. } => 413,
            Refusal::MediaTypeNotAllowed(_)
            | Refusal::ContentMismatch { .. }
            | Refusal::UnknownType => 415,
            Refusal::ChecksumMismatch { .. } => 400,
        }
    }
}

/// What an accepted upload was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// Bytes.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: [u8; 32],
    /// The media type (declared, or told from the content).
    pub media_type: String,
}

/// See the module doc.
pub struct Inspector {
    limit: u64,
    policy: MediaPolicy,
    declared: Option<String>,
    expected: Option<[u8; 32]>,
    size: u64,
    head: Vec<u8>,
    checked: bool,
    media_type: Option<String>,
    hash: aws_lc_rs::digest::Context,
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector")
            .field("limit", &self.limit)
            .field("size", &self.size)
            .field("declared", &self.declared)
            .finish_non_exhaustive()
    }
}

impl Inspector {
    /// An inspector for one body.
    pub fn new(
        limit: u64,
        policy: &MediaPolicy,
        declared: Option<&str>,
        expected_sha256: Option<[u8; 32]>,
    ) -> Self {
        Self {
            limit,
            policy: policy.clone(),
            declared: declared.map(str::to_owned),
            expected: expected_sha256,
            size: 0,
            head: Vec::with_capacity(SNIFF_LEN),
            checked: false,
            media_type: None,
            hash: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
        }
    }

    /// Takes the next chunk.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        self.size = self.size.saturating_add(chunk.len() as u64);
        if self.size > self.limit {
            return Err(Refusal::TooLarge { limit: self.limit });
        }
        if !self.checked {
            let room = SNIFF_LEN - self.head.len();
            self.head
                .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(chunk));
            if self.head.len() >= SNIFF_LEN {
                self.check(false)?;
            }
        }
        self.hash.update(chunk);
        Ok(())
    }

    /// Bytes so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn check(&mut self, complete: bool) -> Result<(), Refusal> {
        self.checked = true;
        let declared = match &self.declared {
            Some(d) => d.clone(),
            None => sniff(&self.head)
                .filter(|t| self.policy.allows(t))
                .ok_or(Refusal::UnknownType)?
                .to_owned(),
        };
        match self.policy.check(&declared, &self.head, complete) {
            Ok(()) => {
                self.media_type = MediaPolicy::normalize(&declared).ok();
                self.head = Vec::new();
                Ok(())
            }
            Err(Mismatch::NotAllowed(t)) => Err(Refusal::MediaTypeNotAllowed(t)),
            Err(Mismatch::Content { declared, found }) => {
                Err(Refusal::ContentMismatch { declared, found })
            }
        }
    }

    /// The end of the body: the last checks, and what was received.
    pub fn finish(mut self) -> Result<Inspected, Refusal> {
        if !self.checked {
            self.check(true)?;
        }
        let digest = self.hash.finish();
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest.as_ref());
        if let Some(expected) = self.expected
            && expected != sha256
        {
            return Err(Refusal::ChecksumMismatch {
                declared: crate::digest::hex(&expected),
                actual: crate::digest::hex(&sha256),
            });
        }
        Ok(Inspected {
            size: self.size,
            sha256,
            media_type: self.media_type.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(b: &[u8]) -> [u8; 32] {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    #[test]
    fn counts_checks_and_hashes_across_chunks() {
        let policy = MediaPolicy::default();
        let body: Vec<u8> = b"%PDF-1.7\n"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'x', 5000))
            .collect();
        let mut i = Inspector::new(10_000, &policy, Some("application/pdf"), Some(sha(&body)));
        for chunk in body.chunks(7) {
            i.feed(chunk).unwrap();
        }
        let found = i.finish().unwrap();
        assert_eq!(found.size, body.len() as u64);
        assert_eq!(found.sha256, sha(&body));
        // Too large: refused at the chunk that passes the limit.
        let mut i = Inspector::new(10, &policy, Some("text/plain"), None);
        i.feed(b"0123456789").unwrap();
        assert_eq!(i.feed(b"x"), Err(Refusal::TooLarge { limit: 10 }));
        // A mismatch is found as soon as 512 bytes are in, long before the end.
        let mut i = Inspector::new(u64::MAX, &policy, Some("application/pdf"), None);
        let refused = (0..10).find_map(|_| i.feed(&[b'M'; 100]).err());
        assert!(
            matches!(refused, Some(Refusal::ContentMismatch { .. })),
            "{refused:?}"
        );
        // Wrong checksum.
        let mut i = Inspector::new(100, &policy, Some("text/plain"), Some([0; 32]));
        i.feed(b"hello").unwrap();
        let e = i.finish().unwrap_err();
        assert_eq!(e.status(), 400);
        // No declared type: told from the content.
        let mut i = Inspector::new(100, &policy, None, None);
        i.feed(b"\x89PNG\r\n\x1a\nrest").unwrap();
        assert_eq!(i.finish().unwrap().media_type, "image/png");
        let mut i = Inspector::new(100, &policy, None, None);
        i.feed(b"plain words").unwrap();
        assert_eq!(i.finish().unwrap_err(), Refusal::UnknownType);
    }
}
