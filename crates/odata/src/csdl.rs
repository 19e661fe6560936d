//! `$metadata`: the service's CSDL as EDMX XML (in SAP CAP's layout) and as CSDL JSON, and its
//! ETag.
//!
//! The XML follows what `cds compile --to edmx` writes: two-space indentation, the Core
//! vocabulary reference, the `EntityContainer` first, then the entity types, then the functions;
//! attributes in CAP's order (`Name`, `Type`, facets, `Nullable`). Two deliberate choices:
//! - every `Edm.DateTimeOffset` property declares `Precision="3"` because values are rendered
//!   with milliseconds (CAP writes no precision for `DateTime`, which it sends without fractional
//!   seconds, and `Precision="7"` for `Timestamp`);
//! - function imports carry no `EntitySet`, so a function's result has the context
//!   `$metadata#Collection(Namespace.Type)` (see [`crate::payload`]).

use crate::json::{self, Json};
use crate::model::{EdmType, Property, Service};
use crate::query::Format;

const CORE_XML: &str =
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml";
const CORE_JSON: &str =
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.json";

/// The EDMX (CSDL XML) document of the service.
pub fn metadata_xml(service: &Service) -> String {
    let ns = &service.namespace;
    let mut x = String::with_capacity(2048);
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str(
        "<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n",
    );
    x.push_str(&format!("  <edmx:Reference Uri=\"{CORE_XML}\">\n"));
    x.push_str("    <edmx:Include Alias=\"Core\" Namespace=\"Org.OData.Core.V1\"/>\n");
    x.push_str("  </edmx:Reference>\n");
    x.push_str("  <edmx:DataServices>\n");
    x.push_str(&format!(
        "    <Schema Namespace=\"{}\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n",
        esc(ns)
    ));
    x.push_str("      <EntityContainer Name=\"EntityContainer\">\n");
    for set in &service.entity_sets {
        x.push_str(&format!(
            "        <EntitySet Name=\"{}\" EntityType=\"{}\"/>\n",
            esc(&set.name),
            esc(&service.qualified(&set.entity_type.name))
        ));
    }
    for f in &service.functions {
        x.push_str(&format!(
            "        <FunctionImport Name=\"{}\" Function=\"{}\"/>\n",
            esc(&f.name),
            esc(&service.qualified(&f.name))
        ));
    }
    x.push_str("      </EntityContainer>\n");
    for ty in service.entity_types() {
        x.push_str(&format!("      <EntityType Name=\"{}\">\n", esc(&ty.name)));
        x.push_str("        <Key>\n");
        for &k in &ty.keys {
            if let Some(p) = ty.properties.get(k) {
                x.push_str(&format!(
                    "          <PropertyRef Name=\"{}\"/>\n",
                    esc(&p.name)
                ));
            }
        }
        x.push_str("        </Key>\n");
        for p in &ty.properties {
            x.push_str(&format!(
                "        <Property Name=\"{}\" Type=\"{}\"",
                esc(&p.name),
                p.ty.name()
            ));
            if let Some(n) = p.max_length {
                x.push_str(&format!(" MaxLength=\"{n}\""));
            }
            if let Some(n) = precision(p) {
                x.push_str(&format!(" Precision=\"{n}\""));
            }
            if !p.nullable {
                x.push_str(" Nullable=\"false\"");
            }
            x.push_str("/>\n");
        }
        x.push_str("      </EntityType>\n");
    }
    for f in &service.functions {
        x.push_str(&format!(
            "      <Function Name=\"{}\" IsBound=\"false\" IsComposable=\"false\">\n",
            esc(&f.name)
        ));
        x.push_str(&format!(
            "        <ReturnType Type=\"{}\" Nullable=\"false\"/>\n",
            esc(&return_type(service, &f.returns))
        ));
        x.push_str("      </Function>\n");
    }
    x.push_str("    </Schema>\n");
    x.push_str("  </edmx:DataServices>\n");
    x.push_str("</edmx:Edmx>");
    x
}

/// The CSDL JSON document of the service (`$metadata?$format=json`), with `"$Version":"4.0"`
/// like the XML. Members follow the CSDL JSON defaults: `$Type` is left out for `Edm.String`,
/// `$Nullable` is written only when `true`.
pub fn metadata_json(service: &Service) -> String {
    let ns = &service.namespace;
    let mut container = Json::obj().with("$Kind", "EntityContainer");
    for set in &service.entity_sets {
        container.push(
            &set.name,
            Json::obj()
                .with("$Collection", true)
                .with("$Type", service.qualified(&set.entity_type.name)),
        );
    }
    for f in &service.functions {
        container.push(
            &f.name,
            Json::obj().with("$Function", service.qualified(&f.name)),
        );
    }
    let mut schema = Json::obj().with("EntityContainer", container);
    for ty in service.entity_types() {
        let keys = ty
            .keys
            .iter()
            .filter_map(|&k| ty.properties.get(k))
            .map(|p| Json::from(p.name.as_str()))
            .collect();
        let mut t = Json::obj()
            .with("$Kind", "EntityType")
            .with("$Key", Json::Arr(keys));
        for p in &ty.properties {
            let mut m = Json::obj();
            if p.ty != EdmType::String {
                m.push("$Type", p.ty.name());
            }
            if p.nullable {
                m.push("$Nullable", true);
            }
            if let Some(n) = p.max_length {
                m.push("$MaxLength", i64::from(n));
            }
            if let Some(n) = precision(p) {
                m.push("$Precision", i64::from(n));
            }
            t.push(&p.name, m);
        }
        schema.push(&ty.name, t);
    }
    for f in &service.functions {
        let mut rt = Json::obj();
        if f.returns.collection {
            rt.push("$Collection", true);
        }
        rt.push("$Type", service.qualified(&f.returns.entity_type));
        let overload = Json::obj()
            .with("$Kind", "Function")
            .with("$ReturnType", rt);
        schema.push(&f.name, Json::Arr(vec![overload]));
    }
    let doc = Json::obj()
        .with("$Version", "4.0")
        .with(
            "$Reference",
            Json::obj().with(
                CORE_JSON,
                Json::obj().with(
                    "$Include",
                    Json::Arr(vec![
                        Json::obj()
                            .with("$Namespace", "Org.OData.Core.V1")
                            .with("$Alias", "Core"),
                    ]),
                ),
            ),
        )
        .with("$EntityContainer", format!("{ns}.EntityContainer"))
        .with(ns, schema);
    json::to_string(&doc)
}

/// Whether to answer `$metadata` with CSDL JSON rather than XML: when `$format` (see
/// [`crate::query::document_format`]) says JSON, or, without `$format`, when `Accept` names
/// `application/json` and neither XML nor a wildcard. XML is the default, as in CAP.
pub fn wants_json(format: Option<Format>, accept: Option<&str>) -> bool {
    match format {
        Some(f) => f == Format::Json,
        None => accept.is_some_and(|a| {
            let a = a.to_ascii_lowercase();
            a.contains("application/json") && !a.contains("xml") && !a.contains("*/*")
        }),
    }
}

/// A strong ETag for a metadata document: the FNV-1a 64-bit hash of its text, in hex, quoted.
pub fn metadata_etag(document: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in document.as_bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

fn precision(p: &Property) -> Option<u8> {
    (p.ty == EdmType::DateTimeOffset).then_some(3)
}

fn return_type(service: &Service, rt: &crate::model::ReturnType) -> String {
    let t = service.qualified(&rt.entity_type);
    if rt.collection {
        format!("Collection({t})")
    } else {
        t
    }
}

/// Escapes text for an XML attribute value.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 => out.push_str(&format!("&#x{:x};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntityType, Property, catalog};

    #[test]
    fn catalog_metadata_xml() {
        insta::assert_snapshot!(metadata_xml(&catalog()));
    }

    #[test]
    fn catalog_metadata_json() {
        let text = metadata_json(&catalog());
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["$EntityContainer"], "CatalogService.EntityContainer");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn xml_escapes_names() {
        let s = Service::new("N<&\"'>").entity_set(
            "S",
            EntityType::new("T").key(Property::new("k\u{1}", EdmType::String).max_length(10)),
        );
        let x = metadata_xml(&s);
        assert!(x.contains("Namespace=\"N&lt;&amp;&quot;&apos;&gt;\""));
        assert!(
            x.contains("Name=\"k&#x1;\" Type=\"Edm.String\" MaxLength=\"10\" Nullable=\"false\"")
        );
    }

    #[test]
    fn metadata_format_choice() {
        assert!(!wants_json(None, None));
        assert!(!wants_json(Some(Format::Xml), Some("application/json")));
        assert!(wants_json(Some(Format::Json), None));
        assert!(wants_json(None, Some("application/json")));
        assert!(!wants_json(None, Some("application/json, */*")));
        assert!(!wants_json(None, Some("application/xml")));
    }

    #[test]
    fn etag_is_stable_strong_and_content_dependent() {
        assert_eq!(metadata_etag(""), "\"cbf29ce484222325\"");
        assert_eq!(metadata_etag("a"), "\"af63dc4c8601ec8c\"");
        assert_ne!(metadata_etag("a"), metadata_etag("b"));
    }
}
