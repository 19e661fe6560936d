//! Object keys from a template such as `documents/{documentNumber}/{ID}/{fileName}`
//! (`BRIDGE_DOCUMENT_KEY_TEMPLATE`, docs/DOCUMENTS.md "Upload rules").
//!
//! Placeholders: `{ID}` (required: it makes every document's key its own), `{documentNumber}`,
//! `{location}`, `{fileName}`, `{yyyy}`, `{mm}`, `{dd}` (of the creation instant, UTC).
//! [`KeyTemplate::parse`] checks a template once, at start-up, and names the byte position of
//! what is wrong: an unknown placeholder, an unbalanced brace, a leading `/`, an empty
//! segment, a segment of the literal text that starts with `.`, `..` anywhere in it, a
//! backslash, a control or bidirectional character, one of the characters S3 advises against
//! (below), or a template whose longest key would leave less than [`MIN_FILE_NAME`] bytes for
//! the file name within S3's [`MAX_KEY`].
//!
//! Every value is sanitised into exactly one path segment ([`segment`]), so no input can add a
//! segment, climb out of the template's [`KeyTemplate::prefix`], or hide characters:
//!
//! - `/` and `\` become `_`;
//! - control characters (C0, DEL, C1), the line and paragraph separators and the bidirectional
//!   marks, embeddings, overrides and isolates are dropped ([`is_hidden`]);
//! - the characters S3's object key guidelines list under "characters to avoid"
//!   (`{ } ^ % ` ` ] [ " < > ~ # |`), and `?`, `*`, `:` (wildcards and drive letters elsewhere),
//!   become `_`
//!   (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html>);
//! - leading and trailing dots and spaces are stripped, so no segment is `.`, `..` or a
//!   hidden name;
//! - a value is cut to [`MAX_SEGMENT`] bytes on a character boundary (a file name keeps a
//!   short extension and loses the end of its stem), and cut further when the whole key would
//!   pass [`MAX_KEY`];
//! - what is left empty becomes `_`.
//!
//! Unicode normalisation (NFC) is not applied: S3 keys are byte strings, and two spellings of
//! one name simply make two keys, which the `{ID}` keeps apart anyway.

use chrono::{DateTime, Datelike as _, Utc};

use crate::error::{Error, quote};

/// Longest segment a value becomes (bytes).
pub const MAX_SEGMENT: usize = 200;
/// S3's longest key (bytes).
pub const MAX_KEY: usize = 1024;
/// Longest template (bytes).
pub const MAX_TEMPLATE: usize = 512;
/// The least room a template must leave each `{fileName}` in its longest key (bytes).
pub const MIN_FILE_NAME: usize = 32;
/// Longest file name [`sanitize_file_name`] returns (bytes), as the app's `fileName` check.
pub const MAX_FILE_NAME: usize = 255;
/// Longest extension (bytes after the last dot) a cut file name keeps.
const MAX_EXTENSION: usize = 16;
/// Longest `{yyyy}` (chrono's years run from -262143 to 262143).
const MAX_YEAR: usize = 7;

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

/// A parsed and checked key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    parts: Vec<Part>,
    prefix: String,
    file_names: usize,
}

/// The values a key is made of.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    /// The document's ID.
    pub id: uuid::Uuid,
    /// Its document number (`None` and empty both become `_`).
    pub document_number: Option<&'a str>,
    /// Its location (`None` and empty both become `_`).
    pub location: Option<&'a str>,
    /// Its file name.
    pub file_name: &'a str,
    /// When it was created: `{yyyy}`, `{mm}` and `{dd}` come from it.
    pub created: DateTime<Utc>,
}

/// What S3 advises against in keys, plus wildcards and the drive-letter colon.
fn is_avoided(c: char) -> bool {
    matches!(
        c,
        '{' | '}'
            | '^'
            | '%'
            | '`'
            | ']'
            | '['
            | '"'
            | '<'
            | '>'
            | '~'
            | '#'
            | '|'
            | '?'
            | '*'
            | ':'
    )
}

impl KeyTemplate {
    /// Parses and checks a template (rules in the module doc).
    pub fn parse(template: &str) -> Result<Self, Error> {
        let bad = |why: String| Err(Error::Template(why));
        if template.is_empty() {
            return bad("is empty".into());
        }
        if template.len() > MAX_TEMPLATE {
            return bad(format!("is longer than {MAX_TEMPLATE} bytes"));
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        // The segment being read: where it starts and whether it has a placeholder or text.
        let mut seg_start = 0;
        let mut seg_filled = false;
        let mut i = 0;
        while let Some(c) = template.get(i..).and_then(|r| r.chars().next()) {
            match c {
                '{' => {
                    let rest = template.get(i + 1..).unwrap_or("");
                    let end = match rest.find(['{', '}']) {
                        Some(e) if rest.get(e..).is_some_and(|r| r.starts_with('}')) => e,
                        _ => return bad(format!("the '{{' at byte {i} is not closed")),
                    };
                    let part = match rest.get(..end).unwrap_or("") {
                        "ID" => Part::Id,
                        "documentNumber" => Part::DocumentNumber,
                        "location" => Part::Location,
                        "fileName" => Part::FileName,
                        "yyyy" => Part::Year,
                        "mm" => Part::Month,
                        "dd" => Part::Day,
                        other => {
                            return bad(format!(
                                "unknown placeholder {} at byte {i} (known: {{ID}} \
                                 {{documentNumber}} {{location}} {{fileName}} {{yyyy}} {{mm}} \
                                 {{dd}})",
                                quote(other)
                            ));
                        }
                    };
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(part);
                    seg_filled = true;
                    i += end + 2;
                    continue;
                }
                '}' => return bad(format!("the '}}' at byte {i} closes no placeholder")),
                '/' if i == 0 => return bad("must not start with '/' (byte 0)".into()),
                '/' if !seg_filled => return bad(format!("an empty segment at byte {i}")),
                '/' => {
                    seg_start = i + 1;
                    seg_filled = false;
                }
                '.' if template.get(i..).is_some_and(|r| r.starts_with("..")) => {
                    return bad(format!("'..' at byte {i}"));
                }
                '.' if i == seg_start => {
                    return bad(format!("a segment starts with '.' at byte {i}"));
                }
                '\\' => return bad(format!("a backslash at byte {i}")),
                c if is_hidden(c) => {
                    return bad(format!("a control or bidirectional character at byte {i}"));
                }
                c if is_avoided(c) => {
                    return bad(format!(
                        "{} at byte {i} is a character S3 advises against in keys",
                        quote(&c.to_string())
                    ));
                }
                _ => seg_filled = true,
            }
            text.push(c);
            i += c.len_utf8();
        }
        if !seg_filled {
            return bad(format!(
                "must not end with '/' (byte {})",
                template.len() - 1
            ));
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        if !parts.contains(&Part::Id) {
            return bad("must contain {ID}".into());
        }
        let file_names = parts.iter().filter(|p| **p == Part::FileName).count();
        let longest: usize = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::Id => 36,
                Part::DocumentNumber | Part::Location => MAX_SEGMENT,
                Part::FileName => MIN_FILE_NAME,
                Part::Year => MAX_YEAR,
                Part::Month | Part::Day => 2,
            })
            .sum();
        if longest > MAX_KEY {
            return bad(format!(
                "its longest key would be {longest} bytes (values of {MAX_SEGMENT} bytes, \
                 {MIN_FILE_NAME} for each file name), more than S3's {MAX_KEY}"
            ));
        }
        // Everything up to the last '/' before the first placeholder: no value can change it.
        let prefix = match parts.first() {
            Some(Part::Text(t)) => t.rfind('/').map_or("", |end| &t[..=end]).to_owned(),
            _ => String::new(),
        };
        Ok(Self {
            parts,
            prefix,
            file_names,
        })
    }

    /// The literal directory part every key starts with (`documents/`), or empty: the listing
    /// prefix of reconcile.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object key of a document: never outside [`prefix`](Self::prefix), one segment per
    /// placeholder, at most [`MAX_KEY`] bytes, holding the ID.
    pub fn render(&self, input: &KeyInput<'_>) -> String {
        let number = segment(input.document_number.unwrap_or(""));
        let location = segment(input.location.unwrap_or(""));
        let id = input.id.hyphenated().to_string();
        let year = format!("{:04}", input.created.year());
        let month = format!("{:02}", input.created.month());
        let day = format!("{:02}", input.created.day());
        let fixed: usize = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::Id => id.len(),
                Part::DocumentNumber => number.len(),
                Part::Location => location.len(),
                Part::FileName => 0,
                Part::Year => year.len(),
                Part::Month => month.len(),
                Part::Day => day.len(),
            })
            .sum();
        // `parse` made sure this is at least MIN_FILE_NAME.
        let room = match self.file_names {
            0 => MAX_SEGMENT,
            n => (MAX_KEY.saturating_sub(fixed) / n).clamp(1, MAX_SEGMENT),
        };
        let file_name = file_segment(input.file_name, room);
        let mut key = String::with_capacity(fixed + self.file_names * file_name.len());
        for p in &self.parts {
            key.push_str(match p {
                Part::Text(t) => t,
                Part::Id => &id,
                Part::DocumentNumber => &number,
                Part::Location => &location,
                Part::FileName => &file_name,
                Part::Year => &year,
                Part::Month => &month,
                Part::Day => &day,
            });
        }
        key
    }
}

/// Whether `c` is dropped from names: control characters (C0, DEL, C1), the line and
/// paragraph separators, the byte order mark and the bidirectional marks (ALM, LRM, RLM),
/// embeddings and overrides (U+202A–U+202E) and isolates (U+2066–U+2069).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// The characters replaced or dropped, and the ends stripped; not yet cut.
fn clean(value: &str) -> String {
    let replaced: String = value
        .chars()
        .filter(|c| !is_hidden(*c))
        .map(|c| {
            if c == '/' || c == '\\' || is_avoided(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    replaced
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_owned()
}

/// Trailing dots and spaces (which a cut may leave) stripped; empty becomes `_`.
fn finish(s: &str) -> String {
    let s = s.trim_end_matches(['.', ' ']);
    if s.is_empty() {
        "_".into()
    } else {
        s.to_owned()
    }
}

/// `value` as one path segment of at most [`MAX_SEGMENT`] bytes (rules in the module doc).
pub fn segment(value: &str) -> String {
    finish(cut_bytes(&clean(value), MAX_SEGMENT))
}

/// A file name as a segment of at most `max` bytes, keeping a short extension when cut.
fn file_segment(name: &str, max: usize) -> String {
    let s = clean(name);
    if s.len() <= max {
        return finish(&s);
    }
    if let Some((stem, ext)) = s.rsplit_once('.')
        && !ext.is_empty()
        && ext.len() <= MAX_EXTENSION
        && ext.len() + 1 < max
    {
        // `clean` stripped leading dots, so a non-empty cut stem keeps the name from starting
        // with one.
        let stem = cut_bytes(stem, max - ext.len() - 1).trim_end_matches(['.', ' ']);
        if !stem.is_empty() {
            return format!("{stem}.{ext}");
        }
    }
    finish(cut_bytes(&s, max))
}

/// A file name as the app keeps it and sends it (`fileName`, `Content-Disposition`): the rules
/// of a key segment (spaces inside and Unicode letters kept), at most [`MAX_FILE_NAME`] bytes
/// with the extension kept when cut.
pub fn sanitize_file_name(name: &str) -> String {
    file_segment(name, MAX_FILE_NAME)
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
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    const ID: &str = "12345678-9abc-4def-8123-456789abcdef";

    fn input<'a>(
        number: Option<&'a str>,
        location: Option<&'a str>,
        name: &'a str,
    ) -> KeyInput<'a> {
        KeyInput {
            id: uuid::Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
            document_number: number,
            location,
            file_name: name,
            created: Utc
                .with_ymd_and_hms(2026, 3, 4, 5, 6, 7)
                .single()
                .expect("a valid date"),
        }
    }

    fn template(t: &str) -> KeyTemplate {
        KeyTemplate::parse(t).expect("a valid template")
    }

    #[test]
    fn templates_are_checked_and_errors_name_the_position() {
        for (bad, says) in [
            ("", "is empty"),
            ("documents/{fileName}", "must contain {ID}"),
            ("{ID}/{nope}", "unknown placeholder 'nope' at byte 5"),
            ("{ID}/{Id}", "unknown placeholder 'Id' at byte 5"),
            ("{ID}/{}", "unknown placeholder '' at byte 5"),
            ("x/{ID", "the '{' at byte 2 is not closed"),
            ("x/{a{ID}", "the '{' at byte 2 is not closed"),
            ("a}/{ID}", "the '}' at byte 1 closes no placeholder"),
            ("/abs/{ID}", "must not start with '/' (byte 0)"),
            ("a/../{ID}", "'..' at byte 2"),
            ("a..b/{ID}", "'..' at byte 1"),
            ("{ID}..{fileName}", "'..' at byte 4"),
            ("a//{ID}", "an empty segment at byte 2"),
            ("./{ID}", "a segment starts with '.' at byte 0"),
            ("a/.git/{ID}", "a segment starts with '.' at byte 2"),
            ("a/{ID}/", "must not end with '/' (byte 6)"),
            ("a\\b/{ID}", "a backslash at byte 1"),
            (
                "ab\n/{ID}",
                "a control or bidirectional character at byte 2",
            ),
            (
                "ä\u{202E}/{ID}",
                "a control or bidirectional character at byte 2",
            ),
            ("a#/{ID}", "'#' at byte 1 is a character S3 advises against"),
            ("c:/{ID}", "':' at byte 1"),
            (
                "{documentNumber}/{location}/{documentNumber}/{location}/{documentNumber}/{ID}",
                "its longest key would be 1041 bytes",
            ),
        ] {
            let e = KeyTemplate::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        assert!(KeyTemplate::parse(&format!("{}/{{ID}}", "a".repeat(600))).is_err());
        let t = template("documents/{yyyy}/{mm}/{dd}/{ID}-{fileName}");
        assert_eq!(t.prefix(), "documents/");
        assert_eq!(
            t.render(&input(None, None, "plan.pdf")),
            format!("documents/2026/03/04/{ID}-plan.pdf")
        );
        assert_eq!(template("{ID}").prefix(), "");
        assert_eq!(template("a/b/c-{ID}").prefix(), "a/b/");
        assert_eq!(
            template("a/b.c/{ID}").render(&input(None, None, "")),
            format!("a/b.c/{ID}")
        );
        assert_eq!(template("{location}/{ID}").prefix(), "");
    }

    #[test]
    fn values_become_one_segment() {
        let t = template("documents/{documentNumber}/{location}/{ID}/{fileName}");
        assert_eq!(
            t.render(&input(
                Some("FI/2026/..%2f"),
                Some("Building 7"),
                "../../etc/passwd"
            )),
            format!("documents/FI_2026_.._2f/Building 7/{ID}/_.._etc_passwd")
        );
        assert_eq!(
            t.render(&input(None, Some(""), "")),
            format!("documents/_/_/{ID}/_")
        );
        for (value, segment_is) in [
            ("..", "_"),
            ("...", "_"),
            (". . .", "_"),
            (" .hidden", "hidden"),
            ("trailing. . ", "trailing"),
            ("a\u{202E}fdp.exe", "afdp.exe"),
            ("\u{2066}x\u{2069}\u{200F}", "x"),
            ("C:\\x", "C__x"),
            ("line\nbreak\u{0}\u{7f}\u{85}\u{2028}", "linebreak"),
            ("{}^%`][\"<>~#|?*:", "________________"),
            ("Grüße 東京", "Grüße 東京"),
            ("%2e%2e%2f", "_2e_2e_2f"),
        ] {
            assert_eq!(segment(value), segment_is, "{value:?}");
        }
        // 200 bytes, cut on a character boundary.
        let s = segment(&"ä".repeat(150));
        assert_eq!((s.len(), s.chars().count()), (200, 100));
        let s = segment(&format!("a{}", "ä".repeat(150)));
        assert_eq!(s.len(), 199);
        // A cut that ends in dots or spaces loses them.
        assert_eq!(segment(&format!("{}. x", "a".repeat(199))), "a".repeat(199));
    }

    #[test]
    fn file_names_keep_their_extension_when_cut() {
        let t = template("documents/{documentNumber}/{ID}/{fileName}");
        let long = format!("{}.pdf", "ä".repeat(5000));
        let key = t.render(&input(Some(&"n".repeat(5000)), None, &long));
        assert!(key.len() <= MAX_KEY, "{}", key.len());
        let name = key.rsplit('/').next().expect("a last segment");
        assert_eq!(name.len(), 200, "{name}");
        assert!(name.ends_with(".pdf"), "{key}");
        // No short extension: cut like any value.
        let n = sanitize_file_name(&format!("{}.{}", "a".repeat(300), "b".repeat(40)));
        assert_eq!(n, "a".repeat(255));
        assert_eq!(
            sanitize_file_name(&format!("{}.txt", "x".repeat(300))).len(),
            255
        );
        assert_eq!(sanitize_file_name("Übersicht Q1.xlsx"), "Übersicht Q1.xlsx");
        assert_eq!(sanitize_file_name("  ..\u{202E}gpj.exe "), "gpj.exe");
        assert_eq!(sanitize_file_name("a/b\\c"), "a_b_c");
        assert_eq!(sanitize_file_name(""), "_");
        // A stem that a cut would leave empty: the whole name is cut instead.
        assert_eq!(file_segment("ää.abcdefghijklmnop", 18), "ää.abcdefghijklm");
        // Several file names share what is left of the key.
        let t = template(&format!(
            "{}/{{documentNumber}}/{{location}}/{{fileName}}/{{ID}}/{{fileName}}",
            "p".repeat(400)
        ));
        let long = "n".repeat(1000);
        let key = t.render(&input(Some(&long), Some(&long), &"f".repeat(1000)));
        assert!(key.len() <= MAX_KEY && key.len() > 1000, "{}", key.len());
    }

    /// Adversarial pieces for the random tests.
    const PIECES: &[&str] = &[
        "../",
        "..",
        "/",
        "\\",
        "%2e%2e%2f",
        "/etc/passwd",
        "C:\\x",
        "\u{0}",
        "\n",
        "\r\n",
        "\u{202E}",
        "\u{2067}",
        "\u{85}",
        "\u{7f}",
        ".",
        " ",
        "ä",
        "😀",
        "東",
        "{ID}",
        "a",
        "~",
        "#",
        "?",
        ":",
        "*",
        ".pdf",
        "\u{feff}",
        "\t",
    ];

    fn random_value(rng: &mut fastrand::Rng) -> String {
        let n = rng.usize(0..40);
        let mut s: String = (0..n)
            .map(|_| match rng.u8(..8) {
                0 => char::from_u32(rng.u32(0..0x3_0000))
                    .unwrap_or('x')
                    .to_string(),
                _ => PIECES[rng.usize(..PIECES.len())].to_owned(),
            })
            .collect();
        if rng.u8(..8) == 0 {
            s.push_str(&"x".repeat(10_000));
        }
        if rng.u8(..8) == 0 {
            s.push_str(&"é".repeat(rng.usize(0..3000)));
        }
        s
    }

    /// What every rendered key must be, whatever the input.
    fn assert_clean_key(t: &KeyTemplate, text: &str, key: &str) {
        assert!(key.starts_with(t.prefix()), "{text:?} → {key:?}");
        assert!(key.len() <= MAX_KEY, "{text:?}: {} bytes", key.len());
        assert!(key.contains(ID), "{key:?}");
        assert!(!key.chars().any(is_hidden), "{key:?}");
        assert!(!key.contains('\\') && !key.contains("//"), "{key:?}");
        assert!(!key.starts_with('/') && !key.ends_with('/'), "{key:?}");
        // As many segments as the template has.
        assert_eq!(
            key.split('/').count(),
            text.split('/').count(),
            "{text:?} → {key:?}"
        );
        for s in key.split('/') {
            assert!(!s.is_empty() && s != "." && s != "..", "{key:?}");
            assert!(!s.starts_with('.'), "{key:?}");
        }
    }

    /// Whatever the input: the key keeps the template's prefix, has only clean segments, no
    /// hidden characters, fits S3, and holds the ID.
    #[test]
    fn no_input_escapes_the_prefix() {
        let templates = [
            "documents/{documentNumber}/{ID}/{fileName}",
            "documents/{yyyy}/{mm}/{dd}/{ID}-{fileName}",
            "{location}/{documentNumber}/{ID}/{fileName}",
            "a/b/{documentNumber}.{location}/{ID}.{fileName}",
            "x/{fileName}/{ID}/{fileName}",
            "tenant-1/{location}/{documentNumber}/{fileName}-{ID}",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for text in templates {
            let t = template(text);
            for _ in 0..1500 {
                let (number, location, name) = (
                    random_value(&mut rng),
                    random_value(&mut rng),
                    random_value(&mut rng),
                );
                let key = t.render(&input(Some(&number), Some(&location), &name));
                assert_clean_key(&t, text, &key);
                let stored = sanitize_file_name(&name);
                assert!(!stored.is_empty() && stored.len() <= MAX_FILE_NAME);
                assert!(!stored.starts_with(['.', ' ']) && !stored.ends_with(['.', ' ']));
                assert!(
                    !stored
                        .chars()
                        .any(|c| is_hidden(c) || c == '/' || c == '\\')
                );
            }
        }
    }

    /// Random templates: `parse` never panics, and what it accepts renders clean keys.
    #[test]
    fn random_templates() {
        let pieces = [
            "{ID}",
            "{documentNumber}",
            "{location}",
            "{fileName}",
            "{yyyy}",
            "{mm}",
            "{dd}",
            "/",
            "a",
            "docs",
            ".",
            "..",
            "{",
            "}",
            "{x}",
            "-",
            "\\",
            "\n",
            "ä",
            "#",
            "  ",
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let text: String = (0..rng.usize(1..12))
                .map(|_| pieces[rng.usize(..pieces.len())])
                .collect();
            let Ok(t) = KeyTemplate::parse(&text) else {
                continue;
            };
            accepted += 1;
            assert!(text.starts_with(t.prefix()));
            let (number, name) = (random_value(&mut rng), random_value(&mut rng));
            let key = t.render(&input(Some(&number), None, &name));
            assert_clean_key(&t, &text, &key);
        }
        assert!(accepted > 500, "{accepted}");
    }
}
