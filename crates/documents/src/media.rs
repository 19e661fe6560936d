//! The media types the app accepts, and whether a document's leading bytes fit its declared
//! type.
//!
//! A declared type must be in the list (exactly, or through a `type/*` entry). The content
//! must then fit it: the file signatures of PDF (`%PDF-`), PNG, JPEG, GIF, WebP, TIFF and the
//! ZIP container (also the Office Open XML types, which are ZIP files); text types
//! (`text/*`, JSON, XML) must be UTF-8 without NUL bytes. Whatever the declared type, content
//! that starts like a program (`MZ`, ELF, Mach-O, `#!`) is refused unless the operator
//! allowed `application/octet-stream` or a program type explicitly, and content that is
//! HTML is refused under text types other than `text/html` (a stored page must not pass as
//! a text file). Types the list allows but this module has no signature for are accepted
//! as declared.

use crate::error::{Error, cut};

/// The default list: office documents, PDF, images, text.
pub const DEFAULT_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/tiff",
    "text/plain",
    "text/csv",
    "application/json",
    "application/xml",
    "text/xml",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];

/// How many leading bytes the check looks at.
pub const SNIFF_LEN: usize = 512;

/// Why content does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The declared type is not accepted.
    NotAllowed(String),
    /// The content does not look like the declared type.
    Content {
        /// The declared type.
        declared: String,
        /// What the content looks like, if known.
        found: Option<&'static str>,
    },
}

/// The accepted media types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPolicy {
    allowed: Vec<String>,
}

impl Default for MediaPolicy {
    fn default() -> Self {
        Self {
            allowed: DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

impl MediaPolicy {
    /// A comma-separated list of types (`type/subtype` or `type/*`).
    pub fn parse(list: &str) -> Result<Self, Error> {
        let mut allowed = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let t = Self::normalize(item)?;
            if !allowed.contains(&t) {
                allowed.push(t);
            }
        }
        if allowed.is_empty() {
            return Err(Error::MediaType(String::new()));
        }
        Ok(Self { allowed })
    }

    /// The accepted entries.
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// `type/subtype` in lower case, parameters dropped; each part an RFC 9110 token
    /// (`*` allowed as the subtype).
    pub fn normalize(declared: &str) -> Result<String, Error> {
        let essence = declared.split(';').next().unwrap_or("").trim();
        let bad = || Error::MediaType(cut(declared));
        let (ty, sub) = essence.split_once('/').ok_or_else(bad)?;
        let token = |s: &str| {
            !s.is_empty()
                && s.len() <= 127
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        if !token(ty) || !(token(sub) || sub == "*") {
            return Err(bad());
        }
        Ok(format!(
            "{}/{}",
            ty.to_ascii_lowercase(),
            sub.to_ascii_lowercase()
        ))
    }

    /// Whether the (normalised) type is accepted.
    pub fn allows(&self, media_type: &str) -> bool {
        let Ok(t) = Self::normalize(media_type) else {
            return false;
        };
        let major = t.split('/').next().unwrap_or("");
        self.allowed
            .iter()
            .any(|a| *a == t || a.strip_suffix("/*") == Some(major))
    }

    /// Whether the declared type is accepted and the content's leading bytes fit it.
    /// `complete` says `leading` is the whole content (a body shorter than [`SNIFF_LEN`]).
    pub fn check(&self, declared: &str, leading: &[u8], complete: bool) -> Result<(), Mismatch> {
        let t = Self::normalize(declared).map_err(|_| Mismatch::NotAllowed(cut(declared)))?;
        if !self.allows(&t) {
            return Err(Mismatch::NotAllowed(t));
        }
        let found = sniff(leading);
        let mismatch = |found| {
            Err(Mismatch::Content {
                declared: t.clone(),
                found,
            })
        };
        if let Some(f @ ("application/x-executable" | "text/x-script")) = found
            && !self.allows(f)
            && !self.allows("application/octet-stream")
        {
            return mismatch(found);
        }
        let is_text = t.starts_with("text/") || t.ends_with("/json") || t.ends_with("/xml");
        if leading.is_empty() {
            return if is_text { Ok(()) } else { mismatch(None) };
        }
        let expected: &[&str] = match t.as_str() {
            "application/pdf" => &["application/pdf"],
            "image/png" => &["image/png"],
            "image/jpeg" => &["image/jpeg"],
            "image/gif" => &["image/gif"],
            "image/webp" => &["image/webp"],
            "image/tiff" => &["image/tiff"],
            "application/zip" => &["application/zip"],
            t if t.starts_with("application/vnd.openxmlformats-officedocument.") => {
                &["application/zip"]
            }
            _ if is_text => {
                if !is_text_content(leading, complete) {
                    return mismatch(found);
                }
                if found == Some("text/html") && t != "text/html" {
                    return mismatch(found);
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        if found.is_some_and(|f| expected.contains(&f)) {
            Ok(())
        } else {
            mismatch(found)
        }
    }
}

/// What the leading bytes look like, by signature.
pub fn sniff(leading: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| leading.starts_with(p);
    if starts(b"%PDF-") {
        Some("application/pdf")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if starts(b"RIFF") && leading.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("image/tiff")
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        Some("application/zip")
    } else if starts(b"MZ")
        || starts(b"\x7fELF")
        || starts(b"\xfe\xed\xfa\xce")
        || starts(b"\xfe\xed\xfa\xcf")
        || starts(b"\xcf\xfa\xed\xfe")
        || starts(b"\xce\xfa\xed\xfe")
    {
        Some("application/x-executable")
    } else if starts(b"#!") {
        Some("text/x-script")
    } else if looks_like_html(leading) {
        Some("text/html")
    } else {
        None
    }
}

fn looks_like_html(leading: &[u8]) -> bool {
    let text = String::from_utf8_lossy(
        leading
            .get(..SNIFF_LEN.min(leading.len()))
            .unwrap_or(leading),
    );
    let t = text
        .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
        .to_ascii_lowercase();
    [
        "<!doctype html",
        "<html",
        "<script",
        "<head",
        "<body",
        "<iframe",
        "<svg",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// UTF-8 without NUL; an incomplete last character is fine when more content follows.
fn is_text_content(leading: &[u8], complete: bool) -> bool {
    if leading.contains(&0) {
        return false;
    }
    match std::str::from_utf8(leading) {
        Ok(_) => true,
        Err(e) => !complete && e.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_normalisation() {
        assert_eq!(
            MediaPolicy::normalize("Application/PDF; charset=x").unwrap(),
            "application/pdf"
        );
        for bad in ["", "pdf", "a/", "/b", "a b/c", "text/pl ain", "a/b/c"] {
            assert!(MediaPolicy::normalize(bad).is_err(), "{bad:?}");
        }
        let p = MediaPolicy::parse("image/*, application/pdf").unwrap();
        assert!(p.allows("image/heic") && p.allows("application/pdf"));
        assert!(!p.allows("text/plain"));
        assert!(MediaPolicy::parse(" , ").is_err());
        assert!(MediaPolicy::parse("nonsense").is_err());
    }

    #[test]
    fn content_must_fit_the_type() {
        let p = MediaPolicy::default();
        assert!(p.check("application/pdf", b"%PDF-1.7\n", true).is_ok());
        assert!(
            p.check("image/png", b"\x89PNG\r\n\x1a\n....", false)
                .is_ok()
        );
        assert!(
            p.check(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                b"PK\x03\x04....",
                false
            )
            .is_ok()
        );
        assert!(p.check("text/plain", "Grüße\n".as_bytes(), true).is_ok());
        assert!(p.check("text/plain", b"", true).is_ok());
        // An incomplete last character is fine mid-stream, not at the end.
        assert!(p.check("text/plain", &"ä".as_bytes()[..1], false).is_ok());
        assert!(p.check("text/plain", &"ä".as_bytes()[..1], true).is_err());
        for (declared, content) in [
            ("application/pdf", &b"MZ\x90\0"[..]),
            ("application/pdf", b"PK\x03\x04"),
            ("application/pdf", b""),
            ("image/png", b"%PDF-1.7"),
            ("text/plain", b"MZ\x90\0"),
            ("text/plain", b"#!/bin/sh\nrm -rf /"),
            ("text/plain", b"a\0b"),
            ("text/plain", b"<!DOCTYPE html><script>alert(1)</script>"),
            ("text/csv", b"  <html><body>"),
            ("application/json", b"\x7fELF"),
        ] {
            assert!(
                p.check(declared, content, true).is_err(),
                "{declared} {content:?}"
            );
        }
        assert_eq!(
            p.check("application/x-msdownload", b"MZ", true),
            Err(Mismatch::NotAllowed("application/x-msdownload".into()))
        );
        // An operator who allows programs gets them.
        let q = MediaPolicy::parse("application/octet-stream").unwrap();
        assert!(
            q.check("application/octet-stream", b"\x7fELF", true)
                .is_ok()
        );
    }
}
