//! System query options: `$top $skip $orderby $filter $select $count $search $format
//! $skiptoken`, parsed strictly against an entity type.
//!
//! Rules:
//! - The raw query string is split on `&`, then each name and value is percent-decoded with `+`
//!   read as a space (what HTML forms, `qs`/Express under CAP, and hand-typed URLs mean; UI5
//!   sends `%20` for a space and `%2B` for a plus, so nothing is lost for it).
//! - Options starting with `$` must be known, and appear once: anything else is 400 naming it.
//!   `$expand` is 400 (there are no navigation properties). Custom options without `$`
//!   (`sap-client`, `sap-language`, …) are allowed and ignored, as OData says.
//! - `$top`, `$skip`, `$skiptoken`: non-negative integers within `usize`; `$count`: `true` or
//!   `false`; `$format`: JSON only (`json`, `application/json` with parameters), else 406.
//! - `$select`, `$orderby`, `$filter` name only properties of the entity type (400 with the
//!   property as `target` otherwise); `$select=*` selects everything.
//! - `$search`: one or more terms, or one `"quoted phrase"`; a row matches when every term is a
//!   case-insensitive substring of one of its String properties. `OR`, `NOT` and parentheses are
//!   refused (400); `AND` between terms is allowed and is what juxtaposition means anyway.
//! - The raw query may be at most [`MAX_QUERY_LEN`] bytes.

use crate::error::{Error, quote};
use crate::filter::Filter;
use crate::model::{EdmType, Entity, EntityType, Value};

/// The longest opaque `$skiptoken` accepted.
pub const MAX_SKIPTOKEN_LEN: usize = 2048;

/// The longest raw query string accepted.
pub const MAX_QUERY_LEN: usize = 32 * 1024;

/// The parsed system query options of a request for entities.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryOptions {
    /// `$top`.
    pub top: Option<usize>,
    /// `$skip`.
    pub skip: Option<usize>,
    /// `$orderby`, most significant first.
    pub orderby: Vec<OrderBy>,
    /// `$filter`.
    pub filter: Option<Filter>,
    /// `$select` as property indexes (in request order, no duplicates); `None` for all.
    pub select: Option<Vec<usize>>,
    /// `$count=true`.
    pub count: bool,
    /// `$search`.
    pub search: Option<Search>,
    /// `$skiptoken`: the index into the filtered, ordered list where the page starts.
    pub skiptoken: Option<usize>,
    /// `$skiptoken` of an entity type with keyset paging: the opaque token, as sent (the store
    /// that issued it checks it).
    pub skiptoken_text: Option<String>,
    /// `$format` asked for `IEEE754Compatible=true`.
    pub ieee754_compatible: bool,
    /// The decoded options other than `$skiptoken`, in request order, for next links.
    pub(crate) echo: Vec<(String, String)>,
}

/// One `$orderby` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderBy {
    /// Index of the property.
    pub property: usize,
    /// `desc`.
    pub descending: bool,
}

/// A parsed `$search`: lower-cased terms that must all occur.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    terms: Vec<String>,
}

/// The representation asked for with `$format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `json`, `application/json`.
    Json,
    /// `xml`, `application/xml` (only `$metadata` has it).
    Xml,
}

impl QueryOptions {
    /// Parses the raw (still percent-encoded) query string, without the `?`.
    pub fn parse(raw_query: Option<&str>, entity_type: &EntityType) -> Result<Self, Error> {
        let mut o = QueryOptions::default();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in pairs(raw_query)? {
            if !name.starts_with('$') {
                continue;
            }
            if seen.contains(&name) {
                return Err(option_error(&name, "is given more than once"));
            }
            seen.push(name.clone());
            match name.as_str() {
                "$top" => o.top = Some(number(&name, &value)?),
                "$skip" => o.skip = Some(number(&name, &value)?),
                "$skiptoken" if entity_type.keyset_paging => {
                    if value.is_empty() || value.len() > MAX_SKIPTOKEN_LEN {
                        return Err(option_error(&name, "is not a token this service issued"));
                    }
                    o.skiptoken_text = Some(value.clone());
                }
                "$skiptoken" => o.skiptoken = Some(number(&name, &value)?),
                "$count" => {
                    o.count = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(option_error(&name, "must be 'true' or 'false'")),
                    };
                }
                "$filter" => o.filter = Some(Filter::parse(&value, entity_type)?),
                "$select" => o.select = select(&value, entity_type)?,
                "$orderby" => o.orderby = orderby(&value, entity_type)?,
                "$search" => o.search = Some(Search::parse(&value)?),
                "$format" => {
                    let (format, ieee) = format(&value)?;
                    if format != Format::Json {
                        return Err(Error::not_acceptable(format!(
                            "The $format {} is not supported here; use 'json'",
                            quote(&value)
                        ))
                        .with_target("$format"));
                    }
                    o.ieee754_compatible = ieee;
                }
                "$expand" => {
                    return Err(option_error(
                        &name,
                        "is not supported: the entity type has no navigation properties",
                    ));
                }
                _ => {
                    return Err(Error::bad_request(format!(
                        "The system query option {} is not supported",
                        quote(&name)
                    ))
                    .with_target(&name));
                }
            }
            if name != "$skiptoken" {
                o.echo.push((name, value));
            }
        }
        Ok(o)
    }

    /// Refuses the options that make no sense for a single entity or property
    /// (everything but `$select` and `$format`).
    pub fn check_single(&self) -> Result<(), Error> {
        for (name, _) in &self.echo {
            if !["$select", "$format"].contains(&name.as_str()) {
                return Err(option_error(name, "cannot be applied to a single entity"));
            }
        }
        if self.skiptoken.is_some() || self.skiptoken_text.is_some() {
            return Err(option_error(
                "$skiptoken",
                "cannot be applied to a single entity",
            ));
        }
        Ok(())
    }

    /// The query string of the next page: the request's options re-encoded, with
    /// `$skiptoken=N` last.
    pub fn next_link_query(&self, skiptoken: usize) -> String {
        self.next_link_query_token(&skiptoken.to_string())
    }

    /// The query string of the next page with an opaque (keyset) `$skiptoken`.
    pub fn next_link_query_token(&self, skiptoken: &str) -> String {
        let mut parts: Vec<String> = self
            .echo
            .iter()
            .map(|(n, v)| format!("{n}={}", crate::encode::encode(v)))
            .collect();
        parts.push(format!("$skiptoken={}", crate::encode::encode(skiptoken)));
        parts.join("&")
    }
}

/// Parses the query string of the service document or `$metadata`: only `$format` is allowed
/// (custom options are ignored).
pub fn document_format(raw_query: Option<&str>) -> Result<Option<Format>, Error> {
    let mut found = None;
    for (name, value) in pairs(raw_query)? {
        match name.as_str() {
            "$format" if found.is_none() => found = Some(format(&value)?.0),
            "$format" => return Err(option_error(&name, "is given more than once")),
            n if n.starts_with('$') => {
                return Err(Error::bad_request(format!(
                    "The system query option {} is not supported here",
                    quote(n)
                ))
                .with_target(n));
            }
            _ => {}
        }
    }
    Ok(found)
}

impl Search {
    /// Parses a (decoded) `$search` value.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| option_error("$search", why);
        let text = text.trim();
        let terms: Vec<String> = if let Some(inner) = text.strip_prefix('"') {
            let phrase = inner
                .strip_suffix('"')
                .filter(|p| !p.contains('"'))
                .ok_or_else(|| bad("is invalid: a phrase must be one \"quoted text\""))?;
            vec![phrase.replace("\\\"", "\"")]
        } else {
            let mut terms = Vec::new();
            for word in text.split_whitespace() {
                match word {
                    "AND" => {}
                    "OR" | "NOT" => {
                        return Err(bad("is invalid: 'OR' and 'NOT' are not supported"));
                    }
                    w if w.contains(['(', ')', '"']) => {
                        return Err(bad(
                            "is invalid: parentheses and quotes inside terms are not supported",
                        ));
                    }
                    w => terms.push(w.to_owned()),
                }
            }
            terms
        };
        let terms: Vec<String> = terms
            .into_iter()
            .map(|t| t.to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if terms.is_empty() {
            return Err(bad("needs a search term"));
        }
        Ok(Self { terms })
    }

    /// The terms, lower-cased; all must occur (a quoted phrase is one term).
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Whether every term occurs in some String property of the entity (case-insensitive).
    pub fn matches(&self, entity_type: &EntityType, entity: &Entity) -> bool {
        let texts: Vec<String> = entity_type
            .properties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.ty == EdmType::String)
            .filter_map(|(i, _)| match entity.get(i) {
                Value::String(s) => Some(s.to_lowercase()),
                _ => None,
            })
            .collect();
        self.terms
            .iter()
            .all(|term| texts.iter().any(|t| t.contains(term.as_str())))
    }
}

/// Splits and decodes the raw query string; empty pieces (`a&&b`) are skipped.
fn pairs(raw_query: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let raw = raw_query.unwrap_or("");
    if raw.len() > MAX_QUERY_LEN {
        return Err(Error::bad_request(format!(
            "The query string is longer than {MAX_QUERY_LEN} bytes"
        )));
    }
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let decode = |s: &str| {
                crate::encode::decode(s, true).ok_or_else(|| {
                    Error::bad_request(format!(
                        "The query option {} is not valid percent-encoded UTF-8",
                        quote(piece)
                    ))
                })
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

fn option_error(name: &str, why: &str) -> Error {
    Error::bad_request(format!("The query option {} {why}", quote(name))).with_target(name)
}

fn number(name: &str, value: &str) -> Result<usize, Error> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(option_error(
            name,
            &format!("must be a non-negative integer, not {}", quote(value)),
        ));
    }
    value
        .parse()
        .map_err(|_| option_error(name, "is too large"))
}

fn property(ty: &EntityType, option: &str, name: &str) -> Result<usize, Error> {
    ty.property_index(name).ok_or_else(|| {
        Error::bad_request(format!(
            "Invalid {option}: the entity type '{}' has no property {}",
            ty.name,
            quote(name)
        ))
        .with_target(name)
    })
}

fn select(value: &str, ty: &EntityType) -> Result<Option<Vec<usize>>, Error> {
    let mut out: Vec<usize> = Vec::new();
    for item in value.split(',').map(str::trim) {
        match item {
            "*" => return Ok(None),
            "" => return Err(option_error("$select", "has an empty item")),
            name => {
                let i = property(ty, "$select", name)?;
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
    }
    Ok(Some(out))
}

fn orderby(value: &str, ty: &EntityType) -> Result<Vec<OrderBy>, Error> {
    value
        .split(',')
        .map(|item| {
            let mut words = item.split_whitespace();
            let name = words
                .next()
                .ok_or_else(|| option_error("$orderby", "has an empty item"))?;
            let descending = match words.next() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(option_error(
                        "$orderby",
                        &format!("has {} where 'asc' or 'desc' belongs", quote(other)),
                    ));
                }
            };
            if words.next().is_some() {
                return Err(option_error("$orderby", "has text after 'asc'/'desc'"));
            }
            let index = property(ty, "$orderby", name)?;
            if ty.properties.get(index).map(|p| p.ty) == Some(EdmType::Map) {
                return Err(option_error(
                    "$orderby",
                    &format!("cannot order by {}, a JSON object", quote(name)),
                ));
            }
            Ok(OrderBy {
                property: index,
                descending,
            })
        })
        .collect()
}

/// `json`, `xml`, or a media type with parameters; also says whether `IEEE754Compatible=true`.
fn format(value: &str) -> Result<(Format, bool), Error> {
    let mut parts = value.split(';').map(str::trim);
    let media = parts.next().unwrap_or("").to_ascii_lowercase();
    let format = match media.as_str() {
        "json" | "application/json" => Format::Json,
        "xml" | "application/xml" => Format::Xml,
        _ => {
            return Err(Error::not_acceptable(format!(
                "The $format {} is not supported",
                quote(value)
            ))
            .with_target("$format"));
        }
    };
    let mut ieee = false;
    for param in parts {
        let (k, v) = param.split_once('=').unwrap_or((param, ""));
        match (
            k.to_ascii_lowercase().as_str(),
            v.to_ascii_lowercase().as_str(),
        ) {
            ("odata.metadata", "minimal") => {}
            ("odata.metadata", _) => {
                return Err(Error::not_acceptable(
                    "The $format supports only odata.metadata=minimal",
                )
                .with_target("$format"));
            }
            ("ieee754compatible", v) => ieee = v == "true",
            _ => {}
        }
    }
    Ok((format, ieee))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog;

    fn ty() -> EntityType {
        catalog().entity_sets[0].entity_type.clone()
    }

    #[test]
    fn keyset_skiptokens_are_opaque_text() {
        let s = crate::model::media();
        let ty = &s.entity_sets[0].entity_type;
        let o = QueryOptions::parse(Some("$top=5&$skiptoken=eyJ4IjoxfQ"), ty).expect("ok");
        assert_eq!(o.skiptoken_text.as_deref(), Some("eyJ4IjoxfQ"));
        assert_eq!(o.skiptoken, None);
        assert_eq!(o.next_link_query_token("a b"), "$top=5&$skiptoken=a%20b");
        let long = format!("$skiptoken={}", "x".repeat(MAX_SKIPTOKEN_LEN + 1));
        assert_eq!(
            QueryOptions::parse(Some(&long), ty)
                .expect_err("refused")
                .status(),
            400
        );
        assert_eq!(
            QueryOptions::parse(Some("$skiptoken="), ty)
                .expect_err("refused")
                .status(),
            400
        );
        assert!(
            QueryOptions::parse(Some("$skiptoken=abc"), ty)
                .expect("ok")
                .check_single()
                .is_err()
        );
        // A JSON-object property can be selected but not filtered or ordered by.
        assert!(QueryOptions::parse(Some("$select=attributes"), ty).is_ok());
        for q in ["$orderby=attributes", "$filter=attributes%20eq%20null"] {
            let e = QueryOptions::parse(Some(q), ty).expect_err("refused");
            assert_eq!(e.status(), 400, "{q}");
        }
    }

    #[test]
    fn parses_every_option() {
        let q = "$top=10&$skip=5&$orderby=name%20desc,created+asc&$filter=id%20eq%20'a'\
                 &$select=name,created,name&$count=true&$search=Foo&$format=application/json;\
                 odata.metadata=minimal;IEEE754Compatible=true&$skiptoken=7&sap-client=100&x";
        let o = QueryOptions::parse(Some(q), &ty()).expect("parses");
        assert_eq!((o.top, o.skip, o.skiptoken), (Some(10), Some(5), Some(7)));
        assert_eq!(
            o.orderby,
            vec![
                OrderBy {
                    property: 1,
                    descending: true
                },
                OrderBy {
                    property: 2,
                    descending: false
                }
            ]
        );
        assert_eq!(o.select, Some(vec![1, 2]));
        assert!(o.count && o.filter.is_some() && o.search.is_some() && o.ieee754_compatible);
        assert_eq!(
            o.next_link_query(20),
            "$top=10&$skip=5&$orderby=name%20desc,created%20asc&$filter=id%20eq%20'a'\
             &$select=name,created,name&$count=true&$search=Foo\
             &$format=application%2Fjson%3Bodata.metadata%3Dminimal%3BIEEE754Compatible%3Dtrue\
             &$skiptoken=20"
        );
        let none = QueryOptions::parse(None, &ty()).expect("empty");
        assert_eq!(none, QueryOptions::default());
        assert_eq!(
            QueryOptions::parse(Some("$select=*"), &ty())
                .expect("star")
                .select,
            None
        );
    }

    #[test]
    fn rejects_with_status_and_target() {
        let cases: &[(&str, u16, Option<&str>)] = &[
            ("$filter=name eq", 400, Some("$filter")),
            ("$filter=foo eq 'x'", 400, Some("foo")),
            ("$top=-1", 400, Some("$top")),
            ("$top=abc", 400, Some("$top")),
            ("$top=", 400, Some("$top")),
            ("$top=99999999999999999999999", 400, Some("$top")),
            ("$skip=-1", 400, Some("$skip")),
            ("$skip=1.5", 400, Some("$skip")),
            ("$orderby=nope", 400, Some("nope")),
            ("$orderby=name sideways", 400, Some("$orderby")),
            ("$orderby=name desc x", 400, Some("$orderby")),
            ("$orderby=name,", 400, Some("$orderby")),
            ("$select=nope", 400, Some("nope")),
            ("$select=name,,id", 400, Some("$select")),
            ("$expand=x", 400, Some("$expand")),
            ("$foo=1", 400, Some("$foo")),
            ("$Top=1", 400, Some("$Top")),
            ("$apply=groupby((name))", 400, Some("$apply")),
            ("$top=1&$top=2", 400, Some("$top")),
            ("$count=yes", 400, Some("$count")),
            ("$format=xml", 406, Some("$format")),
            ("$format=atom", 406, Some("$format")),
            ("$format=json;odata.metadata=full", 406, Some("$format")),
            ("$skiptoken=abc", 400, Some("$skiptoken")),
            ("$search=", 400, Some("$search")),
            ("$search=a OR b", 400, Some("$search")),
            ("$search=\"open", 400, Some("$search")),
            ("$filter=%zz", 400, None),
        ];
        for (q, status, target) in cases {
            let e = QueryOptions::parse(Some(q), &ty()).expect_err(q);
            assert_eq!(e.status, *status, "{q}: {e}");
            assert_eq!(e.target.as_deref(), *target, "{q}");
            if let Some(t) = target {
                assert!(e.message.contains(t), "{q}: {}", e.message);
            }
        }
    }

    #[test]
    fn hostile_sizes() {
        let huge = format!("$filter=name eq '{}'", "a".repeat(100_000));
        assert_eq!(
            QueryOptions::parse(Some(&huge), &ty()).map_err(|e| e.status),
            Err(400)
        );
        let deep = format!("$filter={}true{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(
            QueryOptions::parse(Some(&deep), &ty()).map_err(|e| e.status),
            Err(400)
        );
        let e = QueryOptions::parse(Some(&format!("$x{}=1", "y".repeat(20_000))), &ty())
            .expect_err("unknown");
        assert!(e.message.len() < 300 && e.target.is_some_and(|t| t.len() < 300));
    }

    #[test]
    fn search_terms_and_phrases() {
        let t = ty();
        let row = Entity::new(vec!["id1".into(), "Quarterly Report".into()]);
        let hit = |q: &str| Search::parse(q).expect(q).matches(&t, &row);
        assert!(hit("report"));
        assert!(hit("QUARTER rep"));
        assert!(hit("quarterly AND report"));
        assert!(hit("\"y report\""));
        assert!(!hit("\"report quarterly\""));
        assert!(!hit("annual"));
        assert!(hit("id1"));
    }

    #[test]
    fn document_format_only() {
        assert_eq!(document_format(None), Ok(None));
        assert_eq!(
            document_format(Some("$format=json")),
            Ok(Some(Format::Json))
        );
        assert_eq!(
            document_format(Some("$format=xml&sap-language=EN")),
            Ok(Some(Format::Xml))
        );
        assert_eq!(
            document_format(Some("$top=1")).map_err(|e| e.status),
            Err(400)
        );
        assert_eq!(
            document_format(Some("$format=csv")).map_err(|e| e.status),
            Err(406)
        );
    }

    #[test]
    fn single_entity_options() {
        let t = ty();
        assert!(
            QueryOptions::parse(Some("$select=name"), &t)
                .expect("ok")
                .check_single()
                .is_ok()
        );
        for q in ["$top=1", "$filter=true", "$skiptoken=1", "$count=true"] {
            let o = QueryOptions::parse(Some(q), &t).expect(q);
            assert_eq!(o.check_single().map_err(|e| e.status), Err(400), "{q}");
        }
    }
}
