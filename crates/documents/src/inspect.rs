//! The upload inspector: fed every chunk of a body as it streams (a raw `PUT`, a form's file
//! part, or an object read back by finalize), it
//!
//! - counts the bytes against the limit, refusing at the chunk that passes it, whatever
//!   `Content-Length` said;
//! - checks the media type ([`MediaPolicy`]) against the first [`SNIFF_LEN`] bytes as soon as
//!   it has them, or against the whole body at [`Inspector::finish`] when it is shorter; with
//!   no declared type it takes the one [`sniff`] tells, if the policy allows it;
//! - computes the SHA-256 (aws-lc-rs), which [`Inspector::finish`] compares with the client's.
//!
//! A refusal is final: once [`Inspector::feed`] has refused, every later call refuses the same
//! way, so a caller that goes on cannot end up with an accepted upload.
//!
//! The app turns a [`Refusal`] into the error of its protocol, with [`Refusal::status`]; the
//! message is safe to send to the client (it holds no content, only the limit, normalised or
//! quoted media types, and hex digests).

use crate::media::{MediaPolicy, SNIFF_LEN, sniff};

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// More bytes than the limit (413).
    #[error("The document is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The declared type is malformed or not accepted (415); normalised, or quoted when
    /// malformed.
    #[error("The media type {0} is not accepted")]
    MediaTypeNotAllowed(String),
    /// The content does not fit the declared type (415).
    #[error("The content is not {declared}{}", found.map(|f| format!(" (it looks like {f})")).unwrap_or_default())]
    ContentMismatch {
        /// The declared type, normalised.
        declared: String,
        /// What the content looks like, if a signature tells.
        found: Option<&'static str>,
    },
    /// No type was declared and the content's signature tells none the policy allows (415).
    #[error("The media type is missing and cannot be told from the content; send a Content-Type")]
    UnknownType,
    /// The SHA-256 is not the one the client declared (400).
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
    /// The media type, normalised: the declared one, or the one told from the content.
    pub media_type: String,
}

/// See the module doc.
pub struct Inspector {
    limit: u64,
    policy: MediaPolicy,
    declared: Option<String>,
    expected: Option<[u8; 32]>,
    size: u64,
    /// The first bytes, until the media check has run.
    head: Vec<u8>,
    /// The media type, once the check has passed.
    media_type: Option<String>,
    refused: Option<Refusal>,
    hash: aws_lc_rs::digest::Context,
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector")
            .field("limit", &self.limit)
            .field("size", &self.size)
            .field("declared", &self.declared)
            .field("media_type", &self.media_type)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

impl Inspector {
    /// An inspector for one body of at most `limit` bytes; `declared` is the client's media
    /// type (any form: it is normalised), `expected_sha256` its checksum, if it sent one.
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
            media_type: None,
            refused: None,
            hash: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
        }
    }

    /// Takes the next chunk.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        if let Some(r) = &self.refused {
            return Err(r.clone());
        }
        self.size = self.size.saturating_add(chunk.len() as u64);
        if self.size > self.limit {
            return Err(self.refuse(Refusal::TooLarge { limit: self.limit }));
        }
        if self.media_type.is_none() {
            let room = SNIFF_LEN.saturating_sub(self.head.len());
            self.head
                .extend_from_slice(chunk.get(..room).unwrap_or(chunk));
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

    fn refuse(&mut self, refusal: Refusal) -> Refusal {
        self.refused = Some(refusal.clone());
        refusal
    }

    /// The media check on what `head` holds; `complete` when it is the whole body.
    fn check(&mut self, complete: bool) -> Result<(), Refusal> {
        let declared = match &self.declared {
            Some(d) => d.clone(),
            None => match sniff(&self.head).filter(|t| self.policy.allows(t)) {
                Some(t) => t.to_owned(),
                None => return Err(self.refuse(Refusal::UnknownType)),
            },
        };
        if let Err(r) = self.policy.check_content(&declared, &self.head, complete) {
            return Err(self.refuse(r));
        }
        // `check_content` normalised it already.
        self.media_type = Some(MediaPolicy::normalize(&declared).unwrap_or(declared));
        self.head = Vec::new();
        Ok(())
    }

    /// The end of the body: the media check if the body was short, the checksum, and what was
    /// received.
    pub fn finish(mut self) -> Result<Inspected, Refusal> {
        if let Some(r) = self.refused {
            return Err(r);
        }
        if self.media_type.is_none() {
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

    fn inspect(
        limit: u64,
        declared: Option<&str>,
        expected: Option<[u8; 32]>,
        chunks: &[&[u8]],
    ) -> Result<Inspected, Refusal> {
        let policy = MediaPolicy::default();
        let mut i = Inspector::new(limit, &policy, declared, expected);
        for c in chunks {
            i.feed(c)?;
        }
        i.finish()
    }

    #[test]
    fn counts_checks_and_hashes_across_chunks() {
        let body: Vec<u8> = b"%PDF-1.7\n"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'x', 5000))
            .collect();
        let chunks: Vec<&[u8]> = body.chunks(7).collect();
        let found =
            inspect(10_000, Some("Application/PDF"), Some(sha(&body)), &chunks).expect("accepted");
        assert_eq!(
            found,
            Inspected {
                size: body.len() as u64,
                sha256: sha(&body),
                media_type: "application/pdf".into()
            }
        );
        // The known SHA-256 of "hello".
        let hello = inspect(5, Some("text/plain"), None, &[b"hel", b"", b"lo"]).expect("text");
        assert_eq!(
            crate::digest::hex(&hello.sha256),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        // An empty text body.
        let empty = inspect(5, Some("text/plain"), None, &[]).expect("empty text");
        assert_eq!(empty.size, 0);
        assert_eq!(
            inspect(5, Some("application/pdf"), None, &[]),
            Err(Refusal::ContentMismatch {
                declared: "application/pdf".into(),
                found: None
            })
        );
    }

    #[test]
    fn refusals() {
        let policy = MediaPolicy::default();
        // Too large: refused at the chunk that passes the limit, and from then on.
        let mut i = Inspector::new(10, &policy, Some("text/plain"), None);
        i.feed(b"0123456789").expect("at the limit");
        assert_eq!(i.feed(b"x"), Err(Refusal::TooLarge { limit: 10 }));
        assert_eq!(i.feed(b""), Err(Refusal::TooLarge { limit: 10 }));
        assert_eq!(i.finish(), Err(Refusal::TooLarge { limit: 10 }));
        // A mismatch is found as soon as 512 bytes are in, long before the end, and stays.
        let mut i = Inspector::new(u64::MAX, &policy, Some("application/pdf"), None);
        let refused = (0..10).find_map(|n| i.feed(&[b'M'; 100]).err().map(|e| (n, e)));
        assert!(
            matches!(refused, Some((5, Refusal::ContentMismatch { .. }))),
            "{refused:?}"
        );
        assert!(i.feed(b"%PDF-").is_err());
        assert_eq!(i.finish().map_err(|e| e.status()), Err(415));
        // A text type whose 512th byte cuts a character: more follows, so fine.
        let mut body = vec![b'a'; 511];
        body.extend_from_slice("äöü".as_bytes());
        assert!(inspect(1000, Some("text/plain"), None, &[&body]).is_ok());
        // A short body cut in a character is not text.
        assert!(inspect(1000, Some("text/plain"), None, &[&"ä".as_bytes()[..1]]).is_err());
        // Wrong checksum.
        let e = inspect(100, Some("text/plain"), Some([0; 32]), &[b"hello"]).expect_err("bad sum");
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("2cf24dba"), "{e}");
        // Not allowed, and malformed types, quoted safely.
        let e = inspect(100, Some("text/html"), None, &[b"<p>"]).expect_err("not allowed");
        assert_eq!(e.to_string(), "The media type text/html is not accepted");
        let e = inspect(100, Some("text\r\n/x"), None, &[b"a"]).expect_err("malformed");
        assert_eq!(e.to_string(), "The media type 'text??/x' is not accepted");
        // No declared type: told from the content, or refused.
        let png = inspect(100, None, None, &[b"\x89PNG\r\n\x1a\nrest"]).expect("a PNG");
        assert_eq!(png.media_type, "image/png");
        assert_eq!(
            inspect(100, None, None, &[b"plain words"]),
            Err(Refusal::UnknownType)
        );
        assert_eq!(
            inspect(100, None, None, &[b"\x7fELF\x02"]),
            Err(Refusal::UnknownType)
        );
    }

    /// However a body is cut into chunks, the verdict and the hash are the same.
    #[test]
    fn chunking_does_not_matter() {
        let heads: &[(&str, &[u8])] = &[
            ("application/pdf", b"%PDF-1.4\n"),
            ("image/png", b"\x89PNG\r\n\x1a\n"),
            ("text/plain", b""),
            ("text/csv", "ä;ö\n".as_bytes()),
            ("application/zip", b"PK\x03\x04"),
        ];
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..500 {
            let (declared, head) = heads[rng.usize(..heads.len())];
            let mut body = head.to_vec();
            let n = rng.usize(0..2000);
            if rng.bool() {
                let s: String = (0..n).map(|_| rng.char('a'..='ü')).collect();
                body.extend_from_slice(s.as_bytes());
            } else {
                body.extend((0..n).map(|_| rng.u8(..)));
            }
            let limit = rng.u64(0..3000);
            let expected = rng.bool().then(|| sha(&body));
            let whole = inspect(limit, Some(declared), expected, &[&body]);
            let mut chunks = Vec::new();
            let mut rest = &body[..];
            while !rest.is_empty() {
                let (c, r) = rest.split_at(rng.usize(0..=rest.len().min(600)));
                chunks.push(c);
                rest = r;
            }
            let cut = inspect(limit, Some(declared), expected, &chunks);
            // Past the limit, a chunked body may be refused for its content first.
            if body.len() as u64 <= limit {
                assert_eq!(whole, cut, "{declared} {} bytes", body.len());
            } else {
                assert!(cut.is_err());
            }
            match whole {
                Ok(found) => {
                    assert_eq!(found.size, body.len() as u64);
                    assert_eq!(found.sha256, sha(&body));
                    assert!(found.size <= limit);
                }
                Err(Refusal::TooLarge { .. }) => assert!(body.len() as u64 > limit),
                Err(_) => {}
            }
        }
    }
}
