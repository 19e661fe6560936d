//! JSON response bodies in SAP CAP's shapes, with member order written out by hand
//! (`serde_json::Map` would sort the keys).
//!
//! | resource | body | context |
//! |---|---|---|
//! | collection | `{"@odata.context","@odata.count"?,"value":[…],"@odata.nextLink"?}` | `$metadata#Buckets`, `$metadata#Buckets(name,created)` |
//! | function result | same | `$metadata#Collection(CatalogService.Buckets)` |
//! | entity | `{"@odata.context",…properties}` | `$metadata#Buckets/$entity` |
//! | property | `{"@odata.context","value"}` | `$metadata#Buckets('x')/name` |
//!
//! Values: DateTimeOffset as `2026-11-22T12:00:00.000Z` (milliseconds, UTC), Date as
//! `2026-11-22`, Binary as base64url; Int64 and Decimal as JSON strings when the client asked
//! for `IEEE754Compatible=true` (UI5 does), else as numbers. With `$select`, key properties are
//! written too (so every row stays addressable), while the context lists the selection as asked.
//! The next link is relative (`Buckets?$top=…&$skiptoken=N`) and resolves against the service
//! root, like the context URL.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::apply::Page;
use crate::error::Error;
use crate::json;
use crate::model::{EdmType, Entity, EntityType, Service, Value};
use crate::path::Resource;
use crate::query::QueryOptions;

/// The representation of JSON bodies the client negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonFormat {
    /// Write Int64 and Decimal values as strings.
    pub ieee754_compatible: bool,
}

impl JsonFormat {
    /// From the `Accept` header and `$format`: 406 if `Accept` allows no JSON.
    pub fn negotiate(accept: Option<&str>, options: &QueryOptions) -> Result<Self, Error> {
        let mut ieee = options.ieee754_compatible;
        if let Some(accept) = accept.filter(|a| !a.trim().is_empty()) {
            let mut json = false;
            for range in accept.split(',') {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or("").to_ascii_lowercase();
                if ["application/json", "application/*", "*/*"].contains(&media.as_str()) {
                    json = true;
                    ieee |= parts.any(|p| p.eq_ignore_ascii_case("IEEE754Compatible=true"));
                }
            }
            if !json && options.echo.iter().all(|(n, _)| n != "$format") {
                return Err(Error::not_acceptable(
                    "This resource is available as application/json only",
                ));
            }
        }
        Ok(Self {
            ieee754_compatible: ieee,
        })
    }

    /// The `Content-Type` of the bodies written in this format.
    pub fn content_type(self) -> &'static str {
        if self.ieee754_compatible {
            crate::CONTENT_TYPE_JSON_IEEE754
        } else {
            crate::CONTENT_TYPE_JSON
        }
    }
}

/// The body of a collection page (an entity set or a function result).
pub fn collection(
    service: &Service,
    resource: &Resource<'_>,
    page: &Page,
    options: &QueryOptions,
    format: JsonFormat,
) -> Result<String, Error> {
    let (context, path, ty) = match resource {
        Resource::Collection { set } => (
            format!(
                "$metadata#{}{}",
                set.name,
                select_list(&set.entity_type, options)
            ),
            crate::encode::encode(&set.name),
            &set.entity_type,
        ),
        Resource::FunctionCall {
            function,
            entity_type,
        } if function.returns.collection => (
            format!(
                "$metadata#Collection({})",
                service.qualified(&entity_type.name)
            ),
            format!("{}()", crate::encode::encode(&function.name)),
            *entity_type,
        ),
        _ => return Err(Error::internal("not a collection resource")),
    };
    let body = PageBody {
        context,
        count: page.count,
        rows: Rows {
            ty,
            rows: &page.rows,
            props: &selected(ty, options),
            format,
        },
        next: match &page.next_token {
            Some(t) => Some(format!("{path}?{}", options.next_link_query_token(t))),
            None => page
                .next_skiptoken
                .map(|t| format!("{path}?{}", options.next_link_query(t))),
        },
    };
    Ok(json::to_string(&body))
}

/// The body of a single entity (an entity by key, or a function returning one entity).
pub fn entity(
    service: &Service,
    resource: &Resource<'_>,
    row: &Entity,
    options: &QueryOptions,
    format: JsonFormat,
) -> Result<String, Error> {
    let (context, ty) = match resource {
        Resource::Entity { set, .. } => (
            format!(
                "$metadata#{}{}/$entity",
                set.name,
                select_list(&set.entity_type, options)
            ),
            &set.entity_type,
        ),
        Resource::FunctionCall {
            function,
            entity_type,
        } if !function.returns.collection => (
            format!("$metadata#{}", service.qualified(&entity_type.name)),
            *entity_type,
        ),
        _ => return Err(Error::internal("not a single-entity resource")),
    };
    Ok(json::to_string(&Row {
        ty,
        row,
        props: &selected(ty, options),
        format,
        context: Some(&context),
    }))
}

/// The body of one property of an entity: `{"@odata.context":…,"value":…}`.
pub fn property(
    resource: &Resource<'_>,
    row: &Entity,
    format: JsonFormat,
) -> Result<String, Error> {
    let Resource::Property { set, key, property } = resource else {
        return Err(Error::internal("not a property resource"));
    };
    let p = set
        .entity_type
        .properties
        .get(*property)
        .ok_or_else(|| Error::internal("property index out of range"))?;
    let context = format!(
        "$metadata#{}{}/{}",
        set.name,
        key.to_url(&set.entity_type),
        p.name
    );
    struct Body<'a>(String, JsonValue<'a>);
    impl Serialize for Body<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(2))?;
            map.serialize_entry("@odata.context", &self.0)?;
            map.serialize_entry("value", &self.1)?;
            map.end()
        }
    }
    Ok(json::to_string(&Body(
        context,
        JsonValue {
            ty: p.ty,
            value: row.get(*property),
            format,
        },
    )))
}

/// The raw value of a property (`/$value`) and its content type; `None` for null (answer 204).
pub fn raw_value(value: &Value) -> Option<(Vec<u8>, &'static str)> {
    let text = match value {
        Value::Null => return None,
        Value::Binary(b) => return Some((b.clone(), "application/octet-stream")),
        Value::String(s) | Value::Decimal(s) | Value::Guid(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Double(f) => f.to_string(),
        Value::DateTimeOffset(t) => format_datetime(t),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Map(m) => {
            return Some((
                serde_json::Value::Object(m.clone())
                    .to_string()
                    .into_bytes(),
                crate::CONTENT_TYPE_JSON,
            ));
        }
    };
    Some((text.into_bytes(), crate::CONTENT_TYPE_TEXT))
}

/// `2026-11-22T12:00:00.000Z`: UTC with milliseconds.
pub fn format_datetime(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    // Written digit by digit: a page of 50 documents has 100 timestamps, and parsing the
    // format string for each was a visible share of a page's CPU. Years outside four digits
    // and leap seconds keep chrono's rendering.
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    let mut out = [0u8; 24];
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            // `n % 10` is a single digit.
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year.unsigned_abs());
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 3, nanos / 1_000_000);
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        out[i] = c;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `odata.maxpagesize` of a `Prefer` header (`Prefer: odata.maxpagesize=50`); `None` if
/// absent or invalid.
pub fn parse_prefer_maxpagesize(header: &str) -> Option<usize> {
    header.split(',').find_map(|pref| {
        let (name, value) = pref.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("odata.maxpagesize") {
            return None;
        }
        let value = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse().ok())
            .flatten()
            .filter(|&n| n > 0)
    })
}

/// `(name,created)` when `$select` names properties, else nothing.
fn select_list(ty: &EntityType, options: &QueryOptions) -> String {
    match &options.select {
        Some(props) => {
            let names: Vec<&str> = props
                .iter()
                .filter_map(|&i| ty.properties.get(i))
                .map(|p| p.name.as_str())
                .collect();
            format!("({})", names.join(","))
        }
        None => String::new(),
    }
}

/// The indexes of the properties to write, in type order: the selection plus the keys.
fn selected(ty: &EntityType, options: &QueryOptions) -> Vec<usize> {
    (0..ty.properties.len())
        .filter(|i| {
            options
                .select
                .as_ref()
                .is_none_or(|s| s.contains(i) || ty.is_key(*i))
        })
        .collect()
}

struct PageBody<'a> {
    context: String,
    count: Option<usize>,
    rows: Rows<'a>,
    next: Option<String>,
}

impl Serialize for PageBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("@odata.context", &self.context)?;
        if let Some(count) = self.count {
            map.serialize_entry("@odata.count", &count)?;
        }
        map.serialize_entry("value", &self.rows)?;
        if let Some(next) = &self.next {
            map.serialize_entry("@odata.nextLink", next)?;
        }
        map.end()
    }
}

struct Rows<'a> {
    ty: &'a EntityType,
    rows: &'a [Entity],
    props: &'a [usize],
    format: JsonFormat,
}

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for row in self.rows {
            seq.serialize_element(&Row {
                ty: self.ty,
                row,
                props: self.props,
                format: self.format,
                context: None,
            })?;
        }
        seq.end()
    }
}

struct Row<'a> {
    ty: &'a EntityType,
    row: &'a Entity,
    props: &'a [usize],
    format: JsonFormat,
    context: Option<&'a str>,
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(context) = self.context {
            map.serialize_entry("@odata.context", context)?;
        }
        for &i in self.props {
            if let Some(p) = self.ty.properties.get(i) {
                let value = JsonValue {
                    ty: p.ty,
                    value: self.row.get(i),
                    format: self.format,
                };
                map.serialize_entry(&p.name, &value)?;
            }
        }
        map.end()
    }
}

struct JsonValue<'a> {
    ty: EdmType,
    value: &'a Value,
    format: JsonFormat,
}

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let as_string = self.format.ieee754_compatible;
        match self.value {
            Value::Null => s.serialize_none(),
            Value::String(v) | Value::Guid(v) => s.serialize_str(v),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) if as_string && self.ty == EdmType::Int64 => {
                s.serialize_str(&i.to_string())
            }
            Value::Int(i) => s.serialize_i64(*i),
            Value::Decimal(d) if as_string => s.serialize_str(d),
            Value::Decimal(d) => match d.parse::<f64>() {
                Ok(f) => s.serialize_f64(f),
                Err(_) => s.serialize_none(),
            },
            Value::Double(f) => s.serialize_f64(*f),
            Value::DateTimeOffset(t) => s.serialize_str(&format_datetime(t)),
            Value::Date(d) => s.serialize_str(&d.format("%Y-%m-%d").to_string()),
            Value::Binary(b) => {
                s.serialize_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
            }
            Value::Map(m) => m.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_as_chrono_formats_them() {
        use chrono::TimeZone as _;
        let chrono = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let mut cases = vec![
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.timestamp_opt(1_483_228_799, 1_999_000_000).unwrap(), // a leap second
            Utc.timestamp_opt(1_764_000_000, 999_999_999).unwrap(),
        ];
        // A spread of instants with every millisecond digit.
        let mut x: i64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = x.rem_euclid(253_402_300_800); // 0000-01-01 .. 9999-12-31
            let nanos = u32::try_from(x.rem_euclid(1_000_000_000)).expect("below 10^9");
            cases.push(Utc.timestamp_opt(secs - 62_167_219_200, nanos).unwrap());
        }
        for t in &cases {
            assert_eq!(format_datetime(t), chrono(t), "{t:?}");
        }
    }
    use crate::apply::apply;
    use crate::model::{Property, catalog};
    use crate::path;
    use chrono::TimeZone;

    #[allow(clippy::unwrap_used)]
    fn rows(n: u32) -> Vec<Entity> {
        (0..n)
            .map(|i| {
                let created = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, i).unwrap();
                Entity::new(vec![
                    Value::String(format!("bucket-{i}")),
                    if i == 1 {
                        Value::Null
                    } else {
                        Value::String(format!("Bucket \"{i}\""))
                    },
                    Value::DateTimeOffset(created),
                ])
            })
            .collect()
    }

    fn body(path: &str, query: &str, page_size: usize) -> String {
        let s = catalog();
        let r = path::parse(&s, path).expect("path");
        let ty = r.entity_type().expect("type").clone();
        let o = QueryOptions::parse(Some(query), &ty).expect("query");
        let page = apply(&ty, rows(5), &o, page_size);
        collection(&s, &r, &page, &o, JsonFormat::default()).expect("body")
    }

    #[test]
    fn collection_page_with_count_and_next_link() {
        insta::assert_snapshot!(body(
            "Buckets",
            "$top=4&$count=true&$orderby=created%20desc&$filter=startswith(id,'bucket')",
            2
        ));
    }

    #[test]
    fn collection_with_select_and_function_result() {
        insta::assert_snapshot!(body("Buckets", "$select=created", 10));
        let f = body("getBuckets()", "$top=1", 10);
        assert!(f.starts_with(r#"{"@odata.context":"$metadata#Collection(CatalogService.Buckets)","value":[{"id":"bucket-0""#), "{f}");
        let next = body("getBuckets()", "", 2);
        assert!(
            next.ends_with(r#""@odata.nextLink":"getBuckets()?$skiptoken=2"}"#),
            "{next}"
        );
    }

    #[test]
    fn entity_and_property_bodies() {
        let s = catalog();
        let row = &rows(2)[1];
        let r = path::parse(&s, "Buckets('it''s%20ä')").expect("path");
        let o = QueryOptions::parse(Some("$select=name"), &s.entity_sets[0].entity_type)
            .expect("query");
        assert_eq!(
            entity(&s, &r, row, &o, JsonFormat::default()).expect("entity"),
            r#"{"@odata.context":"$metadata#Buckets(name)/$entity","id":"bucket-1","name":null}"#
        );
        let r = path::parse(&s, "Buckets('it''s%20ä')/created").expect("path");
        assert_eq!(
            property(&r, row, JsonFormat::default()).expect("property"),
            r#"{"@odata.context":"$metadata#Buckets('it''s%20%C3%A4')/created","value":"2026-11-22T12:00:01.000Z"}"#
        );
        assert!(collection(&s, &r, &Page::default(), &o, JsonFormat::default()).is_err());
    }

    #[test]
    fn value_rendering() {
        let t = EntityType::new("T")
            .key(Property::new("k", EdmType::Int64))
            .property(Property::new("d", EdmType::Decimal))
            .property(Property::new("b", EdmType::Binary))
            .property(Property::new("day", EdmType::Date));
        let row = Entity::new(vec![
            Value::Int(9_007_199_254_740_993),
            Value::Decimal("12.50".into()),
            Value::Binary(vec![0xfb, 0xff]),
            Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 2).expect("date")),
        ]);
        let write = |ieee754_compatible| {
            json::to_string(&Row {
                ty: &t,
                row: &row,
                props: &[0, 1, 2, 3],
                format: JsonFormat { ieee754_compatible },
                context: None,
            })
        };
        assert_eq!(
            write(false),
            r#"{"k":9007199254740993,"d":12.5,"b":"-_8","day":"2026-01-02"}"#
        );
        assert_eq!(
            write(true),
            r#"{"k":"9007199254740993","d":"12.50","b":"-_8","day":"2026-01-02"}"#
        );
        assert_eq!(raw_value(&Value::Null), None);
        assert_eq!(
            raw_value(&Value::from("x")),
            Some((b"x".to_vec(), crate::CONTENT_TYPE_TEXT))
        );
    }

    #[test]
    fn negotiation_and_prefer() {
        let o = QueryOptions::default();
        let f = |accept| JsonFormat::negotiate(accept, &o).map(|f| f.ieee754_compatible);
        assert_eq!(f(None), Ok(false));
        assert_eq!(
            f(Some(
                "application/json;odata.metadata=minimal;IEEE754Compatible=true"
            )),
            Ok(true)
        );
        assert_eq!(f(Some("text/html, */*;q=0.8")), Ok(false));
        assert_eq!(f(Some("application/xml")).map_err(|e| e.status), Err(406));
        assert_eq!(parse_prefer_maxpagesize("odata.maxpagesize=50"), Some(50));
        assert_eq!(
            parse_prefer_maxpagesize("return=minimal, odata.maxpagesize = \"7\";x=1"),
            Some(7)
        );
        for bad in [
            "odata.maxpagesize=-1",
            "odata.maxpagesize=x",
            "odata.maxpagesize=0",
            "",
            "odata.maxpagesize=99999999999999999999999",
        ] {
            assert_eq!(parse_prefer_maxpagesize(bad), None, "{bad}");
        }
    }
}
