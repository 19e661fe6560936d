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
use crate::model::{ActionReturn, EdmType, MAP_TYPE, Property, Service};
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
            xml_property(&mut x, service, "Property", p);
        }
        if let Some(stream) = &ty.stream {
            x.push_str(&format!(
                "        <Property Name=\"{}\" Type=\"Edm.Stream\"/>\n",
                esc(&stream.name)
            ));
        }
        x.push_str("      </EntityType>\n");
    }
    for ct in &service.complex_types {
        x.push_str(&format!("      <ComplexType Name=\"{}\">\n", esc(&ct.name)));
        for p in &ct.properties {
            xml_property(&mut x, service, "Property", p);
        }
        x.push_str("      </ComplexType>\n");
    }
    if service.uses_map() {
        x.push_str(&format!(
            "      <ComplexType Name=\"{MAP_TYPE}\" OpenType=\"true\"/>\n"
        ));
    }
    for ty in service.entity_types() {
        for a in &ty.actions {
            let entity_set_path = if a.returns == ActionReturn::BoundEntity {
                " EntitySetPath=\"in\""
            } else {
                ""
            };
            x.push_str(&format!(
                "      <Action Name=\"{}\" IsBound=\"true\"{entity_set_path}>\n",
                esc(&a.name)
            ));
            x.push_str(&format!(
                "        <Parameter Name=\"in\" Type=\"{}\"/>\n",
                esc(&service.qualified(&ty.name))
            ));
            for p in &a.parameters {
                xml_property(&mut x, service, "Parameter", p);
            }
            match &a.returns {
                ActionReturn::Nothing => {}
                ActionReturn::BoundEntity => x.push_str(&format!(
                    "        <ReturnType Type=\"{}\"/>\n",
                    esc(&service.qualified(&ty.name))
                )),
                ActionReturn::Complex(name) => x.push_str(&format!(
                    "        <ReturnType Type=\"{}\"/>\n",
                    esc(&service.qualified(name))
                )),
            }
            x.push_str("      </Action>\n");
        }
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
    for ty in service.entity_types() {
        let Some(stream) = &ty.stream else { continue };
        x.push_str(&format!(
            "      <Annotations Target=\"{}/{}\">\n",
            esc(&service.qualified(&ty.name)),
            esc(&stream.name)
        ));
        x.push_str(&format!(
            "        <Annotation Term=\"Core.MediaType\" Path=\"{}\"/>\n",
            esc(&stream.media_type)
        ));
        if let Some(file_name) = &stream.file_name {
            x.push_str("        <Annotation Term=\"Core.ContentDisposition\">\n");
            x.push_str("          <Record Type=\"Core.ContentDispositionType\">\n");
            x.push_str(&format!(
                "            <PropertyValue Property=\"Filename\" Path=\"{}\"/>\n",
                esc(file_name)
            ));
            x.push_str("          </Record>\n");
            x.push_str("        </Annotation>\n");
        }
        x.push_str("      </Annotations>\n");
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
            t.push(&p.name, json_property(service, p));
        }
        if let Some(stream) = &ty.stream {
            t.push(
                &stream.name,
                Json::obj()
                    .with("$Type", "Edm.Stream")
                    .with("$Nullable", true),
            );
        }
        schema.push(&ty.name, t);
    }
    for ct in &service.complex_types {
        let mut t = Json::obj().with("$Kind", "ComplexType");
        for p in &ct.properties {
            t.push(&p.name, json_property(service, p));
        }
        schema.push(&ct.name, t);
    }
    if service.uses_map() {
        schema.push(
            MAP_TYPE,
            Json::obj()
                .with("$Kind", "ComplexType")
                .with("$OpenType", true),
        );
    }
    for ty in service.entity_types() {
        for a in &ty.actions {
            let mut params = vec![
                Json::obj()
                    .with("$Name", "in")
                    .with("$Type", service.qualified(&ty.name)),
            ];
            for p in &a.parameters {
                params.push(json_property(service, p).with("$Name", p.name.as_str()));
            }
            let mut overload = Json::obj().with("$Kind", "Action").with("$IsBound", true);
            if a.returns == ActionReturn::BoundEntity {
                overload.push("$EntitySetPath", "in");
            }
            overload.push("$Parameter", Json::Arr(params));
            match &a.returns {
                ActionReturn::Nothing => {}
                ActionReturn::BoundEntity => overload.push(
                    "$ReturnType",
                    Json::obj().with("$Type", service.qualified(&ty.name)),
                ),
                ActionReturn::Complex(name) => overload.push(
                    "$ReturnType",
                    Json::obj().with("$Type", service.qualified(name)),
                ),
            }
            schema.push(&a.name, Json::Arr(vec![overload]));
        }
    }
    let mut annotations = Json::obj();
    let mut any_annotation = false;
    for ty in service.entity_types() {
        let Some(stream) = &ty.stream else { continue };
        let mut a = Json::obj().with(
            "@Core.MediaType",
            Json::obj().with("$Path", stream.media_type.as_str()),
        );
        if let Some(file_name) = &stream.file_name {
            a.push(
                "@Core.ContentDisposition",
                Json::obj().with("Filename", Json::obj().with("$Path", file_name.as_str())),
            );
        }
        annotations.push(
            &format!("{}/{}", service.qualified(&ty.name), stream.name),
            a,
        );
        any_annotation = true;
    }
    if any_annotation {
        schema.push("$Annotations", annotations);
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

/// One `<Property>` or `<Parameter>` element.
fn xml_property(x: &mut String, service: &Service, element: &str, p: &Property) {
    x.push_str(&format!(
        "        <{element} Name=\"{}\" Type=\"{}\"",
        esc(&p.name),
        esc(&type_name(service, p.ty))
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

/// One property (or parameter) in CSDL JSON.
fn json_property(service: &Service, p: &Property) -> Json {
    let mut m = Json::obj();
    if p.ty != EdmType::String {
        m.push("$Type", type_name(service, p.ty));
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
    m
}

/// The qualified type name: `Edm.*`, or the service's own open type for [`EdmType::Map`].
fn type_name(service: &Service, ty: EdmType) -> String {
    match ty {
        EdmType::Map => service.qualified(MAP_TYPE),
        other => other.name().to_owned(),
    }
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
    fn media_entity_metadata() {
        let s = crate::model::media();
        insta::assert_snapshot!(metadata_xml(&s));
        let json: serde_json::Value = serde_json::from_str(&metadata_json(&s)).expect("valid JSON");
        let schema = &json["CatalogService"];
        assert_eq!(schema["Docs"]["content"]["$Type"], "Edm.Stream");
        assert_eq!(
            schema["Docs"]["attributes"]["$Type"],
            "CatalogService.cds_Map"
        );
        assert_eq!(schema["cds_Map"]["$OpenType"], true);
        assert_eq!(schema["finalize"][0]["$EntitySetPath"], "in");
        assert_eq!(
            schema["downloadUrl"][0]["$ReturnType"]["$Type"],
            "CatalogService.Presigned"
        );
        assert_eq!(
            schema["$Annotations"]["CatalogService.Docs/content"]["@Core.MediaType"]["$Path"],
            "mediaType"
        );
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
