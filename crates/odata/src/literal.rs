//! Primitive literals as they appear in URLs (key predicates and `$filter`): `'text'` with `''`
//! for a quote, integers, decimals, `true`/`false`, dates, date-times and GUIDs.

use chrono::{DateTime, NaiveDate, Utc};

use crate::model::{EdmType, Value};

/// The byte length of the quoted string at the start of `s` (which starts with `'`), including
/// both quotes; `None` if it is not closed.
pub(crate) fn quoted_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes.get(i) == Some(&b'\'') {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// The text of a whole quoted string literal (`'it''s'` → `it's`).
pub(crate) fn unquote(s: &str) -> Option<String> {
    if !s.starts_with('\'') || quoted_len(s)? != s.len() {
        return None;
    }
    Some(s.get(1..s.len() - 1)?.replace("''", "'"))
}

/// A string as a quoted literal.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Parses a literal of the given type; `None` if `text` is not one.
pub(crate) fn parse_typed(ty: EdmType, text: &str) -> Option<Value> {
    match ty {
        EdmType::String => unquote(text).map(Value::String),
        EdmType::Boolean => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        EdmType::Int32 => parse_int(text)
            .filter(|i| i32::try_from(*i).is_ok())
            .map(Value::Int),
        EdmType::Int64 => parse_int(text).map(Value::Int),
        EdmType::Decimal => is_decimal(text).then(|| Value::Decimal(text.to_owned())),
        EdmType::Double => parse_double(text).map(Value::Double),
        EdmType::DateTimeOffset => parse_datetime(text).map(Value::DateTimeOffset),
        EdmType::Date => parse_date(text).map(Value::Date),
        EdmType::Guid => is_guid(text).then(|| Value::Guid(text.to_ascii_lowercase())),
        EdmType::Binary | EdmType::Map => None,
    }
}

/// A literal as it would appear in a URL (for context URLs and key segments).
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::String(s) => quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(d) => d.clone(),
        Value::Double(f) => f.to_string(),
        Value::DateTimeOffset(t) => crate::payload::format_datetime(t),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Guid(g) => g.clone(),
        Value::Map(m) => serde_json::Value::Object(m.clone()).to_string(),
        Value::Binary(b) => {
            use base64::Engine as _;
            format!(
                "binary'{}'",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
            )
        }
    }
}

/// `-?[0-9]+` within `i64`.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `-?[0-9]+(.[0-9]+)?`
pub(crate) fn is_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac)
}

/// A decimal with an optional exponent (`1.5`, `-2`, `1e10`, `1.5E-3`).
pub(crate) fn parse_double(text: &str) -> Option<f64> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (text.get(..i)?, Some(text.get(i + 1..)?)),
        None => (text, None),
    };
    if !is_decimal(mantissa) {
        return None;
    }
    if let Some(exp) = exp {
        let exp = exp.strip_prefix('+').unwrap_or(exp);
        parse_int(exp)?;
    }
    text.parse().ok().filter(|f: &f64| f.is_finite())
}

/// `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// `YYYY-MM-DDThh:mm(:ss(.fff…)?)?(Z|±hh:mm)`, as OData's `dateTimeOffsetValue`.
pub(crate) fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if text.len() > 40 || !text.is_ascii() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // Seconds are optional in OData: `2024-01-01T00:00Z`.
    let zone_at = text.rfind(['Z', 'z', '+', '-']).filter(|&i| i > 10)?;
    let (head, zone) = text.split_at(zone_at);
    if head.len() != 16 {
        return None;
    }
    DateTime::parse_from_rfc3339(&format!("{head}:00{zone}"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `8-4-4-4-12` hex digits.
pub(crate) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(unquote("'it''s'").as_deref(), Some("it's"));
        assert_eq!(unquote("''").as_deref(), Some(""));
        assert_eq!(unquote("'ä😀'").as_deref(), Some("ä😀"));
        for bad in ["'", "'a", "a'", "'a''", "'a'b'", ""] {
            assert_eq!(unquote(bad), None, "{bad}");
        }
        assert_eq!(quote("it's"), "'it''s'");
    }

    #[test]
    fn numbers_dates_guids() {
        assert_eq!(parse_int("-12"), Some(-12));
        assert_eq!(parse_int("99999999999999999999"), None);
        assert_eq!(parse_int("+1"), None);
        assert!(is_decimal("1.50") && !is_decimal("1.") && !is_decimal(".5"));
        assert_eq!(parse_double("1.5e3"), Some(1500.0));
        assert_eq!(parse_double("1e999"), None);
        assert!(parse_datetime("2024-01-01T00:00:00Z").is_some());
        assert!(parse_datetime("2024-01-01T00:00:00.123+01:00").is_some());
        assert!(parse_datetime("2024-01-01T00:00Z").is_some());
        assert!(parse_datetime("2024-01-01T00:00-05:00").is_some());
        assert!(parse_datetime("2024-01-01").is_none());
        assert!(parse_datetime("2024-13-01T00:00:00Z").is_none());
        assert!(parse_date("2024-02-29").is_some() && parse_date("2023-02-29").is_none());
        assert!(is_guid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_guid("0f8fad5b-d9cb-469f-a165-70867728950"));
        assert_eq!(
            parse_typed(EdmType::Int32, "3000000000"),
            None,
            "Int32 range"
        );
    }
}
