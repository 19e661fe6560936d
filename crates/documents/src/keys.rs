//! Object keys from a template such as `documents/{documentNumber}/{ID}/{fileName}`.
//!
//! Placeholders: `{ID}` (required: it makes every document's key its own), `{documentNumber}`,
//! `{location}`, `{fileName}`, `{yyyy}`, `{mm}`, `{dd}` (of the creation date, UTC). The
//! template's literal text is checked once, at start-up: no `..` or `.` segment, no leading
//! `/`, no empty segment, no backslash, no control characters.
//!
//! Every value is sanitised into exactly one path segment ([`segment`]), so no input can add
//! a segment, climb out of the template's prefix, or hide characters:
//! `/` and `\` become `_`; control characters (C0, DEL, C1), line and paragraph separators and
//! bidirectional overrides/isolates are dropped; characters S3's key guidelines advise
//! against (`{ } ^ % ` `]` `[` `"` `<` `>` `~` `#` `|`, and `?` `*` `:`) become `_`; leading
//! dots and spaces are stripped (no `.`, `..` or hidden names), trailing ones too; a value cut
//! to [`MAX_SEGMENT`] bytes on a character boundary (a file name keeps its extension); an
//! empty result is `_`. The whole key stays within S3's 1024 bytes (the file name is cut
//! further when needed).

use chrono::{DateTime, Datelike as _, Utc};

use crate::error::{Error, cut};

/// Longest segment a value becomes (bytes).
pub const MAX_SEGMENT: usize = 200;
/// S3's longest key (bytes).
pub const MAX_KEY: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Id,
    DocumentNumber,
    Location,
    FileName,
    Year,
    Month,
    Day,
}

/// A parsed key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    parts: Vec<Part>,
    prefix: String,
}

/// The values a key is made of.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    /// The document's ID.
    pub id: uuid::Uuid,
    /// Its document number.
    pub document_number: Option<&'a str>,
    /// Its location.
    pub location: Option<&'a str>,
    /// Its file name.
    pub file_name: &'a str,
    /// When it was created.
    pub created: DateTime<Utc>,
}

impl KeyTemplate {
    /// Parses and checks a template.
    pub fn parse(template: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::Template(why);
        if template.is_empty() {
            return Err(bad("is empty".into()));
        }
        if template.len() > 512 {
            return Err(bad("is longer than 512 bytes".into()));
        }
        let mut parts = Vec::new();
        let mut rest = template;
        let mut pos = 0;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('{') {
                let end = inner
                    .find('}')
                    .ok_or_else(|| bad(format!("the brace at byte {pos} is not closed")))?;
                let name = &inner[..end];
                parts.push(match name {
                    "ID" => Part::Id,
                    "documentNumber" => Part::DocumentNumber,
                    "location" => Part::Location,
                    "fileName" => Part::FileName,
                    "yyyy" => Part::Year,
                    "mm" => Part::Month,
                    "dd" => Part::Day,
                    other => {
                        return Err(bad(format!(
                            "unknown placeholder {{{}}} at byte {pos}",
                            cut(other)
                        )));
                    }
                });
                pos += end + 2;
                rest = &inner[end + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                let text = &rest[..end];
                if let Some(i) = text.find('}') {
                    return Err(bad(format!("unbalanced '}}' at byte {}", pos + i)));
                }
                if text.chars().any(|c| c.is_control() || c == '\\') {
                    return Err(bad(format!(
                        "control characters or '\\' in the text at byte {pos}"
                    )));
                }
                parts.push(Part::Text(text.to_owned()));
                pos += end;
                rest = &rest[end..];
            }
        }
        if !parts.contains(&Part::Id) {
            return Err(bad("must contain {ID}".into()));
        }
        // The literal text, with a placeholder standing for one non-empty segment, must be a
        // clean relative path.
        let shape: String = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                _ => "x",
            })
            .collect();
        if shape.starts_with('/') {
            return Err(bad("must not start with '/'".into()));
        }
        if shape
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(bad("has an empty, '.' or '..' segment".into()));
        }
        let prefix = match parts.first() {
            Some(Part::Text(t)) => t.rsplit_once('/').map_or("", |(p, _)| p).to_owned(),
            _ => String::new(),
        };
        let prefix = if prefix.is_empty() {
            prefix
        } else {
            format!("{prefix}/")
        };
        Ok(Self { parts, prefix })
    }

    /// The literal directory part every key starts with (`documents/`), or empty.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object key of a document.
    pub fn render(&self, input: &KeyInput<'_>) -> String {
        let fixed: usize = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::FileName => 0,
                Part::Id => 36,
                Part::Year => 4,
                Part::Month | Part::Day => 2,
                Part::DocumentNumber => input.document_number.map_or(1, |v| segment(v).len()),
                Part::Location => input.location.map_or(1, |v| segment(v).len()),
            })
            .sum();
        let names = self.parts.iter().filter(|p| **p == Part::FileName).count();
        let room = match names {
            0 => MAX_SEGMENT,
            n => (MAX_KEY.saturating_sub(fixed) / n).clamp(1, MAX_SEGMENT),
        };
        let mut key = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => key.push_str(t),
                Part::Id => key.push_str(&input.id.to_string()),
                Part::DocumentNumber => {
                    key.push_str(&input.document_number.map_or_else(|| "_".into(), segment));
                }
                Part::Location => key.push_str(&input.location.map_or_else(|| "_".into(), segment)),
                Part::FileName => key.push_str(&file_segment(input.file_name, room)),
                Part::Year => key.push_str(&format!("{:04}", input.created.year())),
                Part::Month => key.push_str(&format!("{:02}", input.created.month())),
                Part::Day => key.push_str(&format!("{:02}", input.created.day())),
            }
        }
        key
    }
}

/// Whether `c` is dropped from names: control characters, line/paragraph separators and the
/// bidirectional overrides and isolates.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}')
}

fn clean(value: &str) -> String {
    let replaced: String = value
        .chars()
        .filter(|c| !is_hidden(*c))
        .map(|c| match c {
            '/' | '\\' | '{' | '}' | '^' | '%' | '`' | ']' | '[' | '"' | '<' | '>' | '~' | '#'
            | '|' | '?' | '*' | ':' => '_',
            c => c,
        })
        .collect();
    replaced
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_owned()
}

/// `value` as one path segment of at most [`MAX_SEGMENT`] bytes (rules in the module doc).
pub fn segment(value: &str) -> String {
    let s = clean(value);
    let s = cut_bytes(&s, MAX_SEGMENT)
        .trim_end_matches(['.', ' '])
        .to_owned();
    if s.is_empty() { "_".into() } else { s }
}

/// A file name as a segment of at most `max` bytes, keeping a short extension.
fn file_segment(name: &str, max: usize) -> String {
    let s = clean(name);
    let s = if s.len() <= max {
        s
    } else {
        match s.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && ext.len() <= 16 && ext.len() + 2 <= max => {
                let stem = cut_bytes(stem, max - ext.len() - 1);
                format!("{stem}.{ext}")
            }
            _ => cut_bytes(&s, max).to_owned(),
        }
    };
    let s = s.trim_end_matches(['.', ' ']).to_owned();
    if s.is_empty() { "_".into() } else { s }
}

/// A file name as the app keeps and sends it: the same rules as a key segment, at most 255
/// bytes.
pub fn sanitize_file_name(name: &str) -> String {
    file_segment(name, 255)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn input<'a>(number: Option<&'a str>, name: &'a str) -> KeyInput<'a> {
        KeyInput {
            id: uuid::Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
            document_number: number,
            location: Some("Building 7"),
            file_name: name,
            created: Utc
                .with_ymd_and_hms(2026, 3, 4, 5, 6, 7)
                .single()
                .expect("date"),
        }
    }

    #[test]
    fn templates_are_checked() {
        for bad in [
            "",
            "documents/{fileName}",
            "{ID}/{nope}",
            "{ID",
            "a}/{ID}",
            "/abs/{ID}",
            "a/../{ID}",
            "a//{ID}",
            "./{ID}",
            "a\\b/{ID}",
            "a\n/{ID}",
        ] {
            assert!(KeyTemplate::parse(bad).is_err(), "{bad:?}");
        }
        let t = KeyTemplate::parse("documents/{yyyy}/{mm}/{dd}/{ID}-{fileName}").expect("ok");
        assert_eq!(t.prefix(), "documents/");
        assert_eq!(
            t.render(&input(None, "plan.pdf")),
            "documents/2026/03/04/12345678-9abc-4def-8123-456789abcdef-plan.pdf"
        );
        assert_eq!(KeyTemplate::parse("{ID}").expect("ok").prefix(), "");
    }

    #[test]
    fn values_become_one_segment() {
        let t = KeyTemplate::parse("documents/{documentNumber}/{location}/{ID}/{fileName}")
            .expect("ok");
        let id = "12345678-9abc-4def-8123-456789abcdef";
        assert_eq!(
            t.render(&input(Some("FI/2026/..%2f"), "../../etc/passwd")),
            format!("documents/FI_2026_.._2f/Building 7/{id}/_.._etc_passwd")
        );
        assert_eq!(segment(".."), "_");
        assert_eq!(segment("..."), "_");
        assert_eq!(segment(" .hidden"), "hidden");
        assert_eq!(segment("a\u{202E}fdp.exe"), "afdp.exe");
        assert_eq!(segment("C:\\x"), "C__x");
        assert_eq!(segment("line\nbreak\u{0}"), "linebreak");
        assert_eq!(
            t.render(&input(None, "")),
            format!("documents/_/Building 7/{id}/_")
        );
        let long = format!("{}.pdf", "ä".repeat(5000));
        let key = t.render(&input(Some(&"n".repeat(5000)), &long));
        assert!(key.len() <= MAX_KEY, "{}", key.len());
        assert!(key.ends_with(".pdf"), "{key}");
    }

    /// Whatever the input: the key keeps the template's prefix, has only clean segments, no
    /// hidden characters, fits S3, and holds the ID.
    #[test]
    fn no_input_escapes_the_prefix() {
        let t = KeyTemplate::parse("documents/{documentNumber}/{ID}/{fileName}").expect("ok");
        let mut rng = fastrand::Rng::with_seed(7);
        let pieces = [
            "../",
            "..",
            "/",
            "\\",
            "%2e%2e%2f",
            "/etc/passwd",
            "C:\\x",
            "\u{0}",
            "\n",
            "\u{202E}",
            ".",
            " ",
            "ä",
            "😀",
            "{ID}",
            "a",
            "~",
            "#",
            "?",
        ];
        for _ in 0..3000 {
            let make = |rng: &mut fastrand::Rng| {
                let n = rng.usize(0..40);
                let mut s: String = (0..n).map(|_| pieces[rng.usize(0..pieces.len())]).collect();
                if rng.u8(..10) == 0 {
                    s.push_str(&"x".repeat(10_000));
                }
                s
            };
            let (number, name) = (make(&mut rng), make(&mut rng));
            let key = t.render(&input(Some(&number), &name));
            assert!(key.starts_with("documents/"), "{key:?}");
            assert!(key.len() <= MAX_KEY, "{}", key.len());
            assert!(key.contains("12345678-9abc-4def-8123-456789abcdef"));
            assert!(!key.chars().any(is_hidden), "{key:?}");
            assert!(!key.contains('\\'));
            let segments: Vec<&str> = key.split('/').collect();
            assert_eq!(segments.len(), 4, "{key:?}");
            for s in segments {
                assert!(!s.is_empty() && s != "." && s != "..", "{key:?}");
                assert!(!s.starts_with('.'), "{key:?}");
            }
        }
    }
}
