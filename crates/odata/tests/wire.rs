//! Black-box tests over the public API: error bodies as the app sends them, and hostile input
//! thrown at every parser (no panics, only 4xx).

use odata::apply::apply;
use odata::model::{EdmType, Entity, EntityType, Function, Property, Service, Value};
use odata::path;
use odata::query::QueryOptions;

fn catalog() -> Service {
    Service::new("CatalogService")
        .entity_set(
            "Buckets",
            EntityType::new("Buckets")
                .key(Property::new("id", EdmType::String))
                .property(Property::new("name", EdmType::String))
                .property(Property::new("created", EdmType::DateTimeOffset)),
        )
        .function(Function::new("getBuckets").returns_collection_of("Buckets"))
}

/// One error per line: the request, the status, the body.
#[test]
fn error_bodies() {
    let s = catalog();
    let requests = [
        ("Nope", ""),
        ("Buckets('x')/nope", ""),
        ("Buckets(x)", ""),
        ("Buckets", "$filter=name%20eq"),
        ("Buckets", "$filter=foo%20eq%20'x'"),
        ("Buckets", "$filter=created%20eq%20'2024'"),
        ("Buckets", "$top=-1"),
        ("Buckets", "$orderby=nope"),
        ("Buckets", "$select=nope"),
        ("Buckets", "$expand=x"),
        ("Buckets", "$foo=1"),
        ("Buckets", "$top=1&$top=2"),
        ("Buckets", "$format=xml"),
        ("Buckets", "$skiptoken=x"),
        ("Buckets", "$search=%22a%22b%22"),
        ("Buckets", "$search=a%20OR%20b"),
        ("Buckets", "$search=(a)"),
        ("Buckets", "$search=%20"),
    ];
    let mut out = String::new();
    for (p, q) in requests {
        let err = path::parse(&s, p)
            .and_then(|r| {
                let ty = r
                    .entity_type()
                    .cloned()
                    .unwrap_or_else(|| EntityType::new("none"));
                QueryOptions::parse(Some(q), &ty).map(|_| ())
            })
            .expect_err(p);
        out.push_str(&format!("{p}?{q} -> {} {}\n", err.status(), err.to_json()));
    }
    let long = format!(
        "$filter=name eq '{}' and {} eq 1",
        "x".repeat(10),
        "y".repeat(500)
    );
    let ty = &s.entity_sets[0].entity_type;
    let err = QueryOptions::parse(Some(&long), ty).expect_err("long");
    out.push_str(&format!("(long property name) -> {}\n", err.to_json()));
    insta::assert_snapshot!(out);
}

/// A deterministic pseudo-random generator (no extra dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).unwrap_or(0)
    }
}

#[test]
fn random_input_never_panics() {
    let s = catalog();
    let ty = s.entity_sets[0].entity_type.clone();
    let pieces = [
        "Buckets",
        "getBuckets",
        "(",
        ")",
        "'",
        "''",
        "/",
        "$count",
        "$value",
        "$metadata",
        "%",
        "%27",
        "%2F",
        "%zz",
        "%C3",
        "ä",
        "😀",
        "id",
        "name",
        "created",
        "=",
        ",",
        " ",
        "+",
        "eq",
        "ne",
        "gt",
        "and",
        "or",
        "not",
        "in",
        "null",
        "true",
        "1",
        "-1",
        "1.5",
        "1e400",
        "2024-01-01T00:00:00Z",
        "2024-01-01",
        "contains",
        "tolower",
        "length",
        "&",
        "$filter=",
        "$top=",
        "$skip=",
        "$orderby=",
        "$select=",
        "$search=",
        "$skiptoken=",
        "$count=",
        "*",
        "desc",
        "\"",
        "x",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "\u{0}",
        "\\",
    ];
    let rows: Vec<Entity> = (0..20)
        .map(|i| Entity::new(vec![Value::String(format!("b{i}")), Value::Null]))
        .collect();
    let mut rng = Lcg(42);
    for _ in 0..20_000 {
        let n = rng.next() % 12;
        let input: String = (0..n).map(|_| pieces[rng.next() % pieces.len()]).collect();
        if let Err(e) = path::parse(&s, &input) {
            assert!((400..500).contains(&e.status), "{input}: {e}");
        }
        match QueryOptions::parse(Some(&input), &ty) {
            Ok(o) => {
                let page = apply(&ty, rows.clone(), &o, 3);
                assert!(page.rows.len() <= 3);
            }
            Err(e) => assert!((400..500).contains(&e.status), "{input}: {e}"),
        }
    }
}
