//! The media types the app accepts (`BRIDGE_DOCUMENT_MEDIA_TYPES`), and whether a document's
//! leading bytes fit its declared type.
//!
//! A declared type is normalised ([`MediaPolicy::normalize`]: lower case, parameters dropped,
//! `type/subtype` of RFC 9110 §8.3.1 tokens) and must be in the list, exactly or through a
//! `type/*` entry. The content must then fit it ([`MediaPolicy::check`]), judged by its first
//! [`SNIFF_LEN`] bytes (or all of it, when shorter):
//!
//! - types with a file signature need it: PDF (`%PDF-`), PNG, JPEG, GIF, WebP
//!   (`RIFF….WEBP`), TIFF (`II*\0`, `MM\0*`), and the ZIP container (`PK\3\4`, or `PK\5\6`
//!   for an empty archive) for `application/zip`, `application/x-zip-compressed`, the Office
//!   Open XML and OpenDocument types and `+zip` types;
//! - text types (`text/*`, `application/json`, `application/xml`, `+json` and `+xml` types)
//!   need UTF-8 without NUL bytes (a character cut by the end of the leading bytes is fine
//!   when more content follows), and must not start with another known signature;
//! - a program (`MZ` with a binary header, ELF, Mach-O, `#!/`) is refused unless declared as
//!   `application/octet-stream` or an `application/x-…` type the operator allowed (scripts
//!   also as a `text/x-…` type);
//! - markup a browser runs (HTML, SVG) is refused under text and image types other than its
//!   own (`text/html`, `application/xhtml+xml`; `image/svg+xml`), so a stored page cannot pass
//!   as a text file or a picture;
//! - an empty body is accepted only for text types;
//! - any other allowed type (an operator's `application/x-foo`, `image/heic` through
//!   `image/*`, `application/octet-stream`) is accepted as declared.
//!
//! A signature needs all its bytes: content shorter than its type's signature does not fit.
//! UTF-16 text (which holds NUL bytes) is not text here.
//!
//! [`sniff`] tells a type from the signatures alone, for an upload that declares none; it does
//! not guess text types.

use crate::error::{Error, quote};
use crate::inspect::Refusal;

/// The default list: office documents, PDF, images, text. `application/octet-stream` (which
/// accepts anything) is not in it.
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

/// The type that accepts any content.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// What [`sniff`] calls a native program (PE, ELF, Mach-O).
pub const EXECUTABLE: &str = "application/x-executable";
/// What [`sniff`] calls a script with a `#!` line.
pub const SCRIPT: &str = "text/x-script";

const HTML: &str = "text/html";
const SVG: &str = "image/svg+xml";
const ZIP: &str = "application/zip";

/// The accepted media types: normalised entries, `type/subtype` or `type/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPolicy {
    allowed: Vec<String>,
}

impl Default for MediaPolicy {
    /// [`DEFAULT_TYPES`].
    fn default() -> Self {
        Self {
            allowed: DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

impl MediaPolicy {
    /// A comma-separated list of types (`type/subtype` or `type/*`; parameters are dropped,
    /// empty entries skipped). An invalid entry, or a list with none, is an error.
    pub fn parse(list: &str) -> Result<Self, Error> {
        let mut allowed = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let t = essence(item, true)?;
            if !allowed.contains(&t) {
                allowed.push(t);
            }
        }
        if allowed.is_empty() {
            return Err(Error::MediaType {
                input: quote(list),
                reason: "the list names no media type",
            });
        }
        Ok(Self { allowed })
    }

    /// The accepted entries, normalised.
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// A declared type as `type/subtype` in lower case, parameters dropped; each part an RFC
    /// 9110 token of at most 127 characters (RFC 6838 §4.2). A wildcard (`image/*`) is not a
    /// type a document can have and is an error here.
    pub fn normalize(declared: &str) -> Result<String, Error> {
        essence(declared, false)
    }

    /// Whether a declared type is accepted (a malformed one never is).
    pub fn allows(&self, media_type: &str) -> bool {
        let Ok(t) = Self::normalize(media_type) else {
            return false;
        };
        let major = t.split('/').next().unwrap_or("");
        self.allowed
            .iter()
            .any(|a| *a == t || a.strip_suffix("/*") == Some(major))
    }

    /// Whether the declared type is accepted and the content's leading bytes fit it (rules in
    /// the module doc). `leading` is taken as the start of the content, not necessarily all of
    /// it, so a character cut at its end is fine; a signature needs all its bytes.
    pub fn check(&self, declared: &str, leading: &[u8]) -> Result<(), Refusal> {
        self.check_content(declared, leading, false)
    }

    /// [`check`](Self::check), where `complete` says `leading` is the whole content (a body
    /// shorter than [`SNIFF_LEN`]), so a cut character at its end is not fine.
    pub(crate) fn check_content(
        &self,
        declared: &str,
        leading: &[u8],
        complete: bool,
    ) -> Result<(), Refusal> {
        let t =
            Self::normalize(declared).map_err(|_| Refusal::MediaTypeNotAllowed(quote(declared)))?;
        if !self.allows(&t) {
            return Err(Refusal::MediaTypeNotAllowed(t));
        }
        let leading = leading.get(..SNIFF_LEN).unwrap_or(leading);
        let found = sniff(leading);
        let mismatch = || {
            Err(Refusal::ContentMismatch {
                declared: t.clone(),
                found,
            })
        };
        let text = is_text_type(&t);
        let program_type = t == OCTET_STREAM || t.starts_with("application/x-");
        match found {
            Some(EXECUTABLE) if !program_type => return mismatch(),
            Some(SCRIPT) if !(program_type || t.starts_with("text/x-")) => return mismatch(),
            Some(HTML)
                if (text || t.starts_with("image/"))
                    && !matches!(t.as_str(), HTML | "application/xhtml+xml") =>
            {
                return mismatch();
            }
            Some(SVG) if (text || t.starts_with("image/")) && t != SVG => return mismatch(),
            _ => {}
        }
        if leading.is_empty() {
            return if text { Ok(()) } else { mismatch() };
        }
        if let Some(expected) = signature_of(&t) {
            return if found == Some(expected) {
                Ok(())
            } else {
                mismatch()
            };
        }
        if text {
            let binary = found.is_some_and(|f| !matches!(f, SCRIPT | HTML | SVG));
            if binary || !is_text_content(leading, complete) {
                return mismatch();
            }
        }
        Ok(())
    }
}

/// `type/subtype` of `input`, lower case, parameters dropped; `wildcard` allows `type/*`.
fn essence(input: &str, wildcard: bool) -> Result<String, Error> {
    let bad = |reason| Error::MediaType {
        input: quote(input),
        reason,
    };
    let essence = input.split(';').next().unwrap_or("").trim();
    let (ty, sub) = essence
        .split_once('/')
        .ok_or_else(|| bad("is not type/subtype"))?;
    // RFC 9110 §5.6.2 tchar, without `*`, which only a whole wildcard subtype may be.
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'+-.^_`|~".contains(&b))
    };
    if sub == "*" && !wildcard {
        return Err(bad("is a wildcard, not a media type"));
    }
    if !token(ty) || !(token(sub) || sub == "*") {
        return Err(bad("is not type/subtype (RFC 9110 tokens)"));
    }
    Ok(format!(
        "{}/{}",
        ty.to_ascii_lowercase(),
        sub.to_ascii_lowercase()
    ))
}

/// Whether a normalised type is text: `text/*`, JSON, XML, and the `+json`/`+xml` suffixes
/// (RFC 6839).
pub fn is_text_type(t: &str) -> bool {
    t.starts_with("text/")
        || matches!(t, "application/json" | "application/xml")
        || t.ends_with("+json")
        || t.ends_with("+xml")
}

/// The [`sniff`]ed type the content of a normalised type must have, if it has a signature.
fn signature_of(t: &str) -> Option<&'static str> {
    Some(match t {
        "application/pdf" => "application/pdf",
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        "image/tiff" => "image/tiff",
        "application/zip" | "application/x-zip-compressed" => ZIP,
        t if t.starts_with("application/vnd.openxmlformats-officedocument.")
            || t.starts_with("application/vnd.oasis.opendocument.")
            || t.ends_with("+zip") =>
        {
            ZIP
        }
        _ => return None,
    })
}

/// What the leading bytes are, by signature alone: one of the signature types of the module
/// doc, [`EXECUTABLE`], [`SCRIPT`], `text/html` or `image/svg+xml`; `None` for anything else
/// (text included).
pub fn sniff(leading: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| leading.starts_with(p);
    Some(if starts(b"%PDF-") {
        "application/pdf"
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if starts(b"RIFF") && leading.get(8..12) == Some(b"WEBP") {
        "image/webp"
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        "image/tiff"
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        ZIP
    } else if is_program(leading) {
        EXECUTABLE
    } else if starts(b"#!/") || starts(b"#! /") {
        SCRIPT
    } else {
        return markup(leading);
    })
}

/// PE (`MZ` and a binary DOS header: a NUL within its 64 bytes, so a text starting with "MZ"
/// is not one), ELF, Mach-O (both byte orders, 32 and 64 bit, and universal binaries).
fn is_program(leading: &[u8]) -> bool {
    let starts = |p: &[u8]| leading.starts_with(p);
    (starts(b"MZ") && leading.iter().take(64).any(|b| *b == 0))
        || starts(b"\x7fELF")
        || starts(b"\xfe\xed\xfa\xce")
        || starts(b"\xfe\xed\xfa\xcf")
        || starts(b"\xce\xfa\xed\xfe")
        || starts(b"\xcf\xfa\xed\xfe")
        || starts(b"\xca\xfe\xba\xbe")
}

/// HTML or SVG, after a byte order mark, white space, an XML declaration and comments.
fn markup(leading: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(leading).to_ascii_lowercase();
    let mut t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    loop {
        let skipped = if t.starts_with("<?xml") {
            t.find("?>").map(|e| e + 2)
        } else if t.starts_with("<!--") {
            t.find("-->").map(|e| e + 3)
        } else {
            None
        };
        match skipped.and_then(|e| t.get(e..)) {
            Some(rest) => t = rest.trim_start_matches([' ', '\t', '\r', '\n']),
            None => break,
        }
    }
    const HTML_STARTS: &[&str] = &[
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
        "<object",
        "<embed",
        "<meta",
        "<style",
        "<div",
    ];
    if t.starts_with("<!doctype svg") || t.starts_with("<svg") {
        Some(SVG)
    } else if HTML_STARTS.iter().any(|p| t.starts_with(p)) {
        Some(HTML)
    } else {
        None
    }
}

/// UTF-8 without NUL; a character cut by the end is fine when more content follows.
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

    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

    fn policy(list: &str) -> MediaPolicy {
        MediaPolicy::parse(list).expect("a valid list")
    }

    #[test]
    fn lists_and_normalisation() {
        for (input, normal) in [
            ("Application/PDF; charset=x", "application/pdf"),
            (" text/plain ", "text/plain"),
            ("application/vnd.ms-excel", "application/vnd.ms-excel"),
            ("application/ld+json;profile=x", "application/ld+json"),
        ] {
            assert_eq!(
                MediaPolicy::normalize(input).as_deref(),
                Ok(normal),
                "{input:?}"
            );
        }
        for bad in [
            "",
            "pdf",
            "a/",
            "/b",
            "a b/c",
            "text/pl ain",
            "a/b/c",
            "image/*",
            "*/*",
            "text/\n",
            "a/b\u{0}",
            "ä/b",
            "text/p*",
        ] {
            assert!(MediaPolicy::normalize(bad).is_err(), "{bad:?}");
        }
        let e = MediaPolicy::normalize("text/\nplain").expect_err("malformed");
        assert_eq!(
            e.to_string(),
            "media type 'text/?plain': is not type/subtype (RFC 9110 tokens)"
        );
        let p = policy("image/*, application/pdf,, Text/Plain; charset=utf-8");
        assert_eq!(p.allowed(), ["image/*", "application/pdf", "text/plain"]);
        assert!(p.allows("image/heic") && p.allows("Application/PDF") && p.allows("text/plain"));
        // A wildcard is a list entry, never a declared type.
        assert!(!p.allows("image/*") && !p.allows("text/csv") && !p.allows("nonsense"));
        for bad in [" , ", "", "nonsense", "*/*", "image/png, text", "a/b*"] {
            assert!(MediaPolicy::parse(bad).is_err(), "{bad:?}");
        }
        let d = MediaPolicy::default();
        assert!(d.allows(DOCX) && d.allows("text/csv") && !d.allows(OCTET_STREAM));
        assert!(!d.allows("text/html") && !d.allows("image/svg+xml"));
    }

    #[test]
    fn content_must_fit_the_type() {
        let p = MediaPolicy::default();
        for (declared, content) in [
            ("application/pdf", &b"%PDF-1.7\n%\xe2\xe3\xcf\xd3"[..]),
            ("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            ("image/jpeg", b"\xff\xd8\xff\xe0\0\x10JFIF"),
            ("image/gif", b"GIF89a\x01\0\x01\0"),
            ("image/webp", b"RIFF\x24\0\0\0WEBPVP8 "),
            ("image/tiff", b"II*\0\x08\0\0\0"),
            ("image/tiff", b"MM\0*\0\0\0\x08"),
            ("application/zip", b"PK\x05\x06\0\0\0\0"),
            (DOCX, b"PK\x03\x04\x14\0\x06\0"),
            ("text/plain", "Grüße\n".as_bytes()),
            ("text/plain", b"MZ is a postcode district\n"),
            ("text/plain", b"# A heading\n#!not a script"),
            ("text/plain", b""),
            ("text/csv", b"a;b\n1;2\n"),
            ("application/json", b"{\"a\": \"<html>\"}"),
            ("application/xml", b"<?xml version=\"1.0\"?><invoice/>"),
            // An incomplete last character is fine: more content may follow.
            ("text/plain", &"ä".as_bytes()[..1]),
        ] {
            assert_eq!(p.check(declared, content), Ok(()), "{declared} {content:?}");
        }
        for (declared, content, found) in [
            ("application/pdf", &b"MZ\x90\0\x03\0"[..], Some(EXECUTABLE)),
            ("application/pdf", b"PK\x03\x04", Some(ZIP)),
            ("application/pdf", b"%PD", None),
            ("application/pdf", b"", None),
            ("image/png", b"%PDF-1.7", Some("application/pdf")),
            ("image/webp", b"RIFF\x24\0\0\0WAVEfmt ", None),
            (DOCX, b"%PDF-1.4", Some("application/pdf")),
            ("application/zip", b"", None),
            ("text/plain", b"MZ\x90\0\x03\0", Some(EXECUTABLE)),
            ("text/plain", b"#!/bin/sh\nrm -rf /", Some(SCRIPT)),
            ("text/plain", b"a\0b", None),
            ("text/plain", b"\xff\xfeh\0i\0", None),
            ("text/plain", b"%PDF-1.7\n", Some("application/pdf")),
            (
                "text/plain",
                b"<!DOCTYPE html><script>alert(1)</script>",
                Some(HTML),
            ),
            ("text/csv", b"\xef\xbb\xbf  <HTML><body>", Some(HTML)),
            (
                "text/xml",
                b"<?xml version=\"1.0\"?>\n<!-- x -->\n<svg onload=\"x()\">",
                Some(SVG),
            ),
            ("application/json", b"\x7fELF\x02\x01", Some(EXECUTABLE)),
            (
                "image/gif",
                b"<svg xmlns=\"http://www.w3.org/2000/svg\">",
                Some(SVG),
            ),
        ] {
            assert_eq!(
                p.check(declared, content),
                Err(Refusal::ContentMismatch {
                    declared: declared.into(),
                    found
                }),
                "{declared} {content:?}"
            );
        }
        assert_eq!(
            p.check("application/x-msdownload", b"MZ"),
            Err(Refusal::MediaTypeNotAllowed(
                "application/x-msdownload".into()
            ))
        );
        assert_eq!(
            p.check("text/plain\r\nX: y", b"a"),
            Err(Refusal::MediaTypeNotAllowed("'text/plain??X: y'".into()))
        );
    }

    #[test]
    fn what_operators_allow() {
        // Programs only where the operator asked for them.
        let q = policy(
            "application/octet-stream, application/x-elf, text/x-shellscript, image/*, image/svg+xml, application/x-foo",
        );
        assert_eq!(q.check(OCTET_STREAM, b"\x7fELF\x02"), Ok(()));
        assert_eq!(q.check("application/x-elf", b"\x7fELF\x02"), Ok(()));
        assert_eq!(q.check("text/x-shellscript", b"#!/bin/sh\necho"), Ok(()));
        assert!(q.check("image/heic", b"\x7fELF\x02").is_err());
        assert!(q.check("image/heic", b"<html>").is_err());
        // Unknown types: no signature to check.
        assert_eq!(q.check("image/heic", b"\0\0\0\x18ftypheic"), Ok(()));
        assert_eq!(q.check("application/x-foo", b"anything\0"), Ok(()));
        assert_eq!(
            q.check(
                "image/svg+xml",
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"
            ),
            Ok(())
        );
        assert!(q.check("image/svg+xml", b"<html>").is_err());
        // An empty body is text or nothing.
        assert!(q.check(OCTET_STREAM, b"").is_err());
        assert!(q.check("application/x-foo", b"").is_err());
        assert_eq!(q.check("image/svg+xml", b""), Ok(()));
        let h = policy("text/html");
        assert_eq!(h.check("text/html", b"<!doctype html><p>hi"), Ok(()));
    }

    #[test]
    fn sniffing() {
        for (content, t) in [
            (&b"%PDF-1.7"[..], Some("application/pdf")),
            (b"\x89PNG\r\n\x1a\n", Some("image/png")),
            (b"PK\x03\x04", Some(ZIP)),
            (b"RIFF\0\0\0\0WEBP", Some("image/webp")),
            (b"RIFF\0\0\0\0WEB", None),
            (b"MZ", None),
            (b"MZ\x90\0", Some(EXECUTABLE)),
            (b"\xca\xfe\xba\xbe", Some(EXECUTABLE)),
            (b"#!/usr/bin/env python3", Some(SCRIPT)),
            (b"  <!-- a --><!DOCTYPE HTML>", Some(HTML)),
            (b"<?xml version='1.0'?><svg/>", Some(SVG)),
            (b"<?xml version='1.0'?><invoice/>", None),
            (b"<!-- never closed <html>", None),
            (b"plain words", None),
            (b"", None),
        ] {
            assert_eq!(sniff(content), t, "{content:?}");
        }
    }

    /// Random content under random declared types: never a panic, and what passes fits.
    #[test]
    fn random_content() {
        let p = policy(&format!(
            "{},application/x-foo,image/*",
            DEFAULT_TYPES.join(",")
        ));
        let heads: &[&[u8]] = &[
            b"%PDF-",
            b"\x89PNG\r\n\x1a\n",
            b"\xff\xd8\xff",
            b"GIF89a",
            b"RIFF\0\0\0\0WEBP",
            b"II*\0",
            b"PK\x03\x04",
            b"MZ\0",
            b"\x7fELF",
            b"#!/",
            b"<html",
            b"<svg",
            b"",
            b"\xef\xbb\xbf",
        ];
        let types = [
            "application/pdf",
            "image/png",
            "text/plain",
            "application/json",
            DOCX,
            "image/heic",
            "application/x-foo",
            "text/html",
            "Image/PNG;q=1",
        ];
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..20_000 {
            let mut content = heads[rng.usize(..heads.len())].to_vec();
            let tail = rng.usize(0..700);
            if rng.bool() {
                content.extend((0..tail).map(|_| rng.u8(..)));
            } else {
                let s: String = (0..tail).map(|_| rng.char(..)).collect();
                content.extend_from_slice(s.as_bytes());
            }
            let declared = types[rng.usize(..types.len())];
            let complete = rng.bool();
            let verdict = p.check_content(declared, &content, complete);
            let t = MediaPolicy::normalize(declared).expect("valid");
            let head = content.get(..SNIFF_LEN).unwrap_or(&content);
            match verdict {
                Ok(()) => {
                    if let Some(sig) = signature_of(&t) {
                        assert_eq!(sniff(head), Some(sig));
                    }
                    if is_text_type(&t) {
                        assert!(!head.contains(&0));
                    }
                    if !t.starts_with("application/x-") {
                        assert_ne!(sniff(head), Some(EXECUTABLE));
                    }
                }
                Err(Refusal::MediaTypeNotAllowed(_)) => assert_eq!(t, "text/html"),
                Err(Refusal::ContentMismatch { .. }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
    }
}
