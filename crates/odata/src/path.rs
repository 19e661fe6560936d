//! Resource paths: the part of the URL path after the service root, parsed against the model.
//!
//! The path is taken raw (still percent-encoded): it is split on `/` first and each segment is
//! decoded on its own, so an encoded slash (`%2F`) inside a key stays part of the key. `+` is a
//! literal plus in paths. Supported forms:
//!
//! | path | resource |
//! |---|---|
//! | `` or `/` | [`Resource::ServiceDocument`] |
//! | `$metadata` | [`Resource::Metadata`] |
//! | `$batch` | [`Resource::Batch`] (the multipart body is the app's business) |
//! | `Buckets` | [`Resource::Collection`] |
//! | `Buckets/$count` | [`Resource::Count`] |
//! | `Buckets('x')`, `Buckets(id='x')` | [`Resource::Entity`] |
//! | `Buckets('x')/name` | [`Resource::Property`] |
//! | `Buckets('x')/name/$value` | [`Resource::PropertyValue`] |
//! | `getBuckets()` | [`Resource::FunctionCall`] |
//! | `Documents(…)/content` (the type's stream property) | [`Resource::Stream`] |
//! | `Documents(…)/CatalogService.finalize`, `Documents(…)/finalize` | [`Resource::BoundAction`] |
//!
//! Unknown entity sets, functions, properties and segments are 404; malformed keys (missing
//! quotes, a wrong key name, unbalanced parentheses, a literal of the wrong type) are 400.

use crate::error::{Error, quote};
use crate::literal;
use crate::model::{Action, Entity, EntitySet, EntityType, Function, Service, Value};

/// The longest raw path accepted.
pub const MAX_PATH_LEN: usize = 8 * 1024;

/// What a resource path addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource<'a> {
    /// The service document.
    ServiceDocument,
    /// The metadata document.
    Metadata,
    /// The batch endpoint.
    Batch,
    /// All entities of a set.
    Collection {
        /// The set.
        set: &'a EntitySet,
    },
    /// The number of entities of a set (`/$count`, plain text).
    Count {
        /// The set.
        set: &'a EntitySet,
    },
    /// One entity by key.
    Entity {
        /// The set.
        set: &'a EntitySet,
        /// The key.
        key: Key,
    },
    /// One property of an entity, as JSON.
    Property {
        /// The set.
        set: &'a EntitySet,
        /// The entity's key.
        key: Key,
        /// Index of the property in the set's entity type.
        property: usize,
    },
    /// The raw value of one property of an entity (`/$value`).
    PropertyValue {
        /// The set.
        set: &'a EntitySet,
        /// The entity's key.
        key: Key,
        /// Index of the property in the set's entity type.
        property: usize,
    },
    /// The media content of one entity (its type's stream property).
    Stream {
        /// The set.
        set: &'a EntitySet,
        /// The entity's key.
        key: Key,
    },
    /// An action bound to one entity (`POST` only; the app checks the method).
    BoundAction {
        /// The set.
        set: &'a EntitySet,
        /// The entity's key.
        key: Key,
        /// The action.
        action: &'a Action,
    },
    /// A call of an unbound function through its function import.
    FunctionCall {
        /// The function.
        function: &'a Function,
        /// The entity type of its result.
        entity_type: &'a EntityType,
    },
}

/// A parsed key predicate: `(property index, value)` in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    values: Vec<(usize, Value)>,
}

impl Resource<'_> {
    /// The entity type of the addressed entities, if any.
    pub fn entity_type(&self) -> Option<&EntityType> {
        match self {
            Resource::Collection { set }
            | Resource::Count { set }
            | Resource::Entity { set, .. }
            | Resource::Property { set, .. }
            | Resource::PropertyValue { set, .. }
            | Resource::Stream { set, .. }
            | Resource::BoundAction { set, .. } => Some(&set.entity_type),
            Resource::FunctionCall { entity_type, .. } => Some(entity_type),
            Resource::ServiceDocument | Resource::Metadata | Resource::Batch => None,
        }
    }
}

impl Key {
    /// The key values with the index of their property.
    pub fn values(&self) -> &[(usize, Value)] {
        &self.values
    }

    /// Whether the entity has this key.
    pub fn matches(&self, entity: &Entity) -> bool {
        self.values
            .iter()
            .all(|(i, v)| crate::filter::equal(entity.get(*i), v))
    }

    /// The key predicate as it appears in a URL: `('x')` or `(a='x',b=1)`, percent-encoded.
    pub fn to_url(&self, entity_type: &EntityType) -> String {
        let parts: Vec<String> = if let [(_, v)] = self.values.as_slice() {
            vec![literal::render(v)]
        } else {
            self.values
                .iter()
                .map(|(i, v)| {
                    let name = entity_type.properties.get(*i).map_or("", |p| &p.name);
                    format!("{name}={}", literal::render(v))
                })
                .collect()
        };
        format!("({})", crate::encode::encode_segment(&parts.join(",")))
    }
}

/// Parses a raw resource path (leading `/` optional) against the service.
pub fn parse<'a>(service: &'a Service, raw_path: &str) -> Result<Resource<'a>, Error> {
    if raw_path.len() > MAX_PATH_LEN {
        return Err(Error::bad_request(format!(
            "The resource path is longer than {MAX_PATH_LEN} bytes"
        )));
    }
    let raw = raw_path.strip_prefix('/').unwrap_or(raw_path);
    if raw.is_empty() {
        return Ok(Resource::ServiceDocument);
    }
    let segments = raw
        .split('/')
        .map(|s| {
            crate::encode::decode(s, false).ok_or_else(|| {
                Error::bad_request(format!(
                    "The path segment {} is not valid percent-encoded UTF-8",
                    quote(s)
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (first, rest) = match segments.split_first() {
        Some((first, rest)) => (first.as_str(), rest),
        None => return Ok(Resource::ServiceDocument),
    };
    let resource = match first {
        "$metadata" => Resource::Metadata,
        "$batch" => Resource::Batch,
        _ => first_segment(service, first)?,
    };
    let mut resource = resource;
    for segment in rest {
        resource = next_segment(&service.namespace, resource, segment)?;
    }
    Ok(resource)
}

fn first_segment<'a>(service: &'a Service, segment: &str) -> Result<Resource<'a>, Error> {
    let (name, args) = match segment.find('(') {
        Some(i) => {
            let inner = segment
                .get(i + 1..)
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| {
                    Error::bad_request(format!(
                        "Unbalanced parentheses in the path segment {}",
                        quote(segment)
                    ))
                })?;
            (segment.get(..i).unwrap_or(""), Some(inner))
        }
        None => (segment, None),
    };
    if let Some(set) = service.find_entity_set(name) {
        return Ok(match args {
            None => Resource::Collection { set },
            Some(inner) => Resource::Entity {
                set,
                key: parse_key(&set.entity_type, inner)?,
            },
        });
    }
    if let Some(function) = service.find_function(name) {
        let entity_type = service
            .find_entity_type(&function.returns.entity_type)
            .ok_or_else(|| {
                Error::internal(format!(
                    "The function '{}' returns an unknown entity type",
                    function.name
                ))
            })?;
        return match args {
            Some("") => Ok(Resource::FunctionCall {
                function,
                entity_type,
            }),
            Some(_) => Err(Error::bad_request(format!(
                "The function '{name}' takes no parameters"
            ))),
            None => Err(Error::bad_request(format!(
                "The function '{name}' must be called with parentheses: '{name}()'"
            ))),
        };
    }
    Err(Error::not_found(format!(
        "No entity set or function named {} in this service",
        quote(name)
    )))
}

fn next_segment<'a>(
    namespace: &str,
    resource: Resource<'a>,
    segment: &str,
) -> Result<Resource<'a>, Error> {
    match (resource, segment) {
        (Resource::Collection { set }, "$count") => Ok(Resource::Count { set }),
        (Resource::Entity { set, key }, name)
            if set
                .entity_type
                .stream
                .as_ref()
                .is_some_and(|s| s.name == name) =>
        {
            Ok(Resource::Stream { set, key })
        }
        (Resource::Entity { set, key }, name)
            if set
                .entity_type
                .find_action(bound_name(namespace, name))
                .is_some() =>
        {
            let action = set
                .entity_type
                .find_action(bound_name(namespace, name))
                .ok_or_else(|| Error::internal("the action vanished"))?;
            Ok(Resource::BoundAction { set, key, action })
        }
        (Resource::Entity { set, key }, name) => match set.entity_type.property_index(name) {
            Some(property) => Ok(Resource::Property { set, key, property }),
            None => Err(Error::not_found(format!(
                "The entity type '{}' has no property {}",
                set.entity_type.name,
                quote(name)
            ))
            .with_target(name)),
        },
        (Resource::Property { set, key, property }, "$value") => {
            Ok(Resource::PropertyValue { set, key, property })
        }
        (Resource::Collection { .. }, s) if s.starts_with(|c: char| c.is_alphabetic()) => {
            Err(Error::bad_request(format!(
                "The path segment {} needs an entity; address one by key first",
                quote(s)
            )))
        }
        (_, s) => Err(Error::not_found(format!(
            "The path segment {} addresses nothing here",
            quote(s)
        ))),
    }
}

/// A bound action's segment without the namespace qualifier (`CatalogService.finalize` →
/// `finalize`); an unqualified name stays as it is, as CAP accepts both.
fn bound_name<'s>(namespace: &str, segment: &'s str) -> &'s str {
    segment
        .strip_prefix(namespace)
        .and_then(|s| s.strip_prefix('.'))
        .unwrap_or(segment)
}

/// Parses the inside of a key predicate: `'x'`, `id='x'`, `a='x',b=1`.
fn parse_key(ty: &EntityType, inner: &str) -> Result<Key, Error> {
    let bad =
        |why: &str| Error::bad_request(format!("Invalid key predicate {}: {why}", quote(inner)));
    if inner.is_empty() {
        return Err(bad("the key is missing"));
    }
    let mut items: Vec<(Option<&str>, &str)> = Vec::new();
    let mut rest = inner;
    loop {
        let mut name = None;
        let ident_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if ident_len > 0 && rest.get(ident_len..ident_len + 1) == Some("=") {
            name = rest.get(..ident_len);
            rest = rest.get(ident_len + 1..).unwrap_or("");
        }
        let value_len = if rest.starts_with('\'') {
            literal::quoted_len(rest).ok_or_else(|| bad("a string is not closed"))?
        } else {
            rest.find(',').unwrap_or(rest.len())
        };
        let (value, after) = rest.split_at(value_len);
        items.push((name, value));
        match after.strip_prefix(',') {
            Some(next) => rest = next,
            None if after.is_empty() => break,
            None => return Err(bad("unexpected text after a value")),
        }
    }
    let mut values: Vec<(usize, Value)> = Vec::new();
    if let [(None, text)] = items.as_slice() {
        let [k] = ty.keys.as_slice() else {
            return Err(bad("a key with several properties needs name=value pairs"));
        };
        values.push((*k, key_value(ty, *k, text, &bad)?));
    } else {
        for (name, text) in &items {
            let name = name.ok_or_else(|| bad("mix of named and unnamed values"))?;
            let k = ty
                .property_index(name)
                .filter(|&k| ty.is_key(k))
                .ok_or_else(|| bad(&format!("{} is not a key property", quote(name))))?;
            if values.iter().any(|(i, _)| *i == k) {
                return Err(bad(&format!("{} is given twice", quote(name))));
            }
            values.push((k, key_value(ty, k, text, &bad)?));
        }
        if values.len() != ty.keys.len() {
            return Err(bad("not every key property has a value"));
        }
        values.sort_by_key(|(i, _)| ty.keys.iter().position(|k| k == i));
    }
    Ok(Key { values })
}

fn key_value(
    ty: &EntityType,
    k: usize,
    text: &str,
    bad: &dyn Fn(&str) -> Error,
) -> Result<Value, Error> {
    let p = ty
        .properties
        .get(k)
        .ok_or_else(|| Error::internal("key index out of range"))?;
    literal::parse_typed(p.ty, text).ok_or_else(|| {
        bad(&format!(
            "the value of '{}' is not an {} literal",
            p.name,
            p.ty.name()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EdmType, Property, catalog};

    fn key_of(r: &Resource<'_>) -> Vec<Value> {
        match r {
            Resource::Entity { key, .. }
            | Resource::Property { key, .. }
            | Resource::PropertyValue { key, .. } => {
                key.values().iter().map(|(_, v)| v.clone()).collect()
            }
            other => panic!("no key in {other:?}"),
        }
    }

    #[test]
    fn streams_and_bound_actions() {
        let s = crate::model::media();
        let id = "Docs(0b6c4b8e-5d0f-4b8e-9f3a-1c2d3e4f5a6b)";
        assert!(matches!(
            parse(&s, &format!("{id}/content")),
            Ok(Resource::Stream { .. })
        ));
        for segment in ["CatalogService.finalize", "finalize", "downloadUrl"] {
            match parse(&s, &format!("{id}/{segment}")) {
                Ok(Resource::BoundAction { action, .. }) => {
                    assert!(segment.ends_with(&action.name));
                }
                other => panic!("{segment}: {other:?}"),
            }
        }
        // Another namespace's action, and an action on the collection, address nothing.
        assert_eq!(
            parse(&s, &format!("{id}/Other.finalize"))
                .map(|_| ())
                .expect_err("refused")
                .status(),
            404
        );
        assert_eq!(
            parse(&s, "Docs/finalize")
                .map(|_| ())
                .expect_err("refused")
                .status(),
            400
        );
    }

    #[test]
    fn accepted_paths() {
        let s = catalog();
        assert_eq!(parse(&s, ""), Ok(Resource::ServiceDocument));
        assert_eq!(parse(&s, "/"), Ok(Resource::ServiceDocument));
        assert_eq!(parse(&s, "$metadata"), Ok(Resource::Metadata));
        assert!(matches!(
            parse(&s, "/Buckets"),
            Ok(Resource::Collection { .. })
        ));
        assert!(matches!(
            parse(&s, "Buckets/$count"),
            Ok(Resource::Count { .. })
        ));
        assert!(matches!(
            parse(&s, "getBuckets()"),
            Ok(Resource::FunctionCall { .. })
        ));
        assert!(matches!(
            parse(&s, "Buckets('x')/name"),
            Ok(Resource::Property { property: 1, .. })
        ));
        assert!(matches!(
            parse(&s, "Buckets('x')/name/$value"),
            Ok(Resource::PropertyValue { property: 1, .. })
        ));
    }

    #[test]
    fn keys_quotes_unicode_and_percent_encoding() {
        let s = catalog();
        let cases = [
            ("Buckets('x')", "x"),
            ("Buckets(id='x')", "x"),
            ("Buckets('it''s')", "it's"),
            ("Buckets('a,b')", "a,b"),
            ("Buckets('a(b)')", "a(b)"),
            ("Buckets('ä😀')", "ä😀"),
            ("Buckets(%27a%20b%27)", "a b"),
            ("Buckets('a%2Fb')", "a/b"),
            ("Buckets('a+b')", "a+b"),
            ("Buckets('')", ""),
        ];
        for (path, want) in cases {
            let r = parse(&s, path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(key_of(&r), vec![Value::from(want)], "{path}");
        }
    }

    #[test]
    fn rejected_paths() {
        let s = catalog();
        let cases = [
            ("Nope", 404),
            ("Nope('x')", 404),
            ("Buckets('x')/nope", 404),
            ("Buckets('x')/name/nope", 404),
            ("Buckets/$value", 404),
            ("$metadata/x", 404),
            ("getBuckets()/x", 404),
            ("Buckets(x)", 400),
            ("Buckets(1)", 400),
            ("Buckets('x'", 400),
            ("Buckets('x)", 400),
            ("Buckets('x'))", 400),
            ("Buckets('x''", 400),
            ("Buckets()", 400),
            ("Buckets(name='x')", 400),
            ("Buckets(id='x',id='y')", 400),
            ("Buckets('a','b')", 400),
            ("Buckets('x')y", 400),
            ("Buckets/name", 400),
            ("Buckets('%zz')", 400),
            ("Buckets('%FF')", 400),
            ("getBuckets", 400),
            ("getBuckets(x=1)", 400),
        ];
        for (path, status) in cases {
            match parse(&s, path) {
                Err(e) => assert_eq!(e.status, status, "{path}: {e}"),
                Ok(r) => panic!("{path} parsed as {r:?}"),
            }
        }
    }

    #[test]
    fn composite_and_typed_keys() {
        let t = EntityType::new("T")
            .key(Property::new("a", EdmType::String))
            .key(Property::new("b", EdmType::Int32))
            .property(Property::new("c", EdmType::Guid));
        let s = Service::new("N").entity_set("T", t);
        let r = parse(&s, "T(b=2,a='x')").expect("parses");
        assert_eq!(key_of(&r), vec![Value::from("x"), Value::Int(2)]);
        let Resource::Entity { key, set } = &r else {
            panic!("not an entity")
        };
        assert_eq!(key.to_url(&set.entity_type), "(a='x',b=2)");
        assert_eq!(parse(&s, "T(a='x')").map_err(|e| e.status), Err(400));
        assert_eq!(parse(&s, "T(a='x',b='2')").map_err(|e| e.status), Err(400));
        assert_eq!(parse(&s, "T('x')").map_err(|e| e.status), Err(400));
        assert!(key.matches(&Entity::new(vec!["x".into(), Value::Int(2)])));
        assert!(!key.matches(&Entity::new(vec!["x".into(), Value::Int(3)])));
    }

    #[test]
    fn long_and_hostile_input_never_panics() {
        let s = catalog();
        let long = format!("Buckets('{}')", "a".repeat(100_000));
        assert_eq!(parse(&s, &long).map_err(|e| e.status), Err(400));
        let key = format!("Buckets('{}')", "ä".repeat(1000));
        assert!(parse(&s, &key).is_ok());
        for junk in [
            "(((",
            ")))",
            "'",
            "Buckets(''')",
            "Buckets('''')",
            "//",
            "Buckets//",
            "%",
            "(",
            "Buckets(=)",
            "Buckets(id=)",
            "Buckets(,)",
            "Buckets('x',)",
            "é(",
        ] {
            let _ = parse(&s, junk);
        }
        let e = parse(&s, &"x".repeat(5000)).expect_err("unknown");
        assert!(e.message.len() < 200, "{}", e.message);
    }
}
