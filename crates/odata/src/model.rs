//! The service model the app builds (entity types, entity sets, unbound functions) and the values
//! of its rows.
//!
//! ```
//! use odata::model::{EdmType, EntityType, Function, Property, Service};
//!
//! let service = Service::new("CatalogService")
//!     .entity_set(
//!         "Buckets",
//!         EntityType::new("Buckets")
//!             .key(Property::new("id", EdmType::String))
//!             .property(Property::new("name", EdmType::String))
//!             .property(Property::new("created", EdmType::DateTimeOffset)),
//!     )
//!     .function(Function::new("getBuckets").returns_collection_of("Buckets"));
//! assert!(service.find_entity_set("Buckets").is_some());
//! ```

use chrono::{DateTime, NaiveDate, Utc};

/// An OData service: one schema (namespace) with one entity container named `EntityContainer`.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// The schema namespace, e.g. `CatalogService`.
    pub namespace: String,
    /// The entity sets, in container order; each owns its entity type.
    pub entity_sets: Vec<EntitySet>,
    /// The unbound functions; each has a function import of the same name.
    pub functions: Vec<Function>,
    /// Complex types (the results of actions), in declaration order.
    pub complex_types: Vec<ComplexType>,
}

/// A complex type: structural properties without a key (what an action may return).
#[derive(Debug, Clone, PartialEq)]
pub struct ComplexType {
    /// The type's simple name.
    pub name: String,
    /// Its properties.
    pub properties: Vec<Property>,
}

/// A stream property (`Edm.Stream`) of an entity type: the media content of the entity, read
/// and written at `<entity>/<name>`; not part of the rows, so never in JSON bodies, `$filter`
/// or `$orderby`. Annotated, as SAP CAP does for a `LargeBinary @Core.MediaType` element, with
/// the property that holds its media type and (optionally) the one that holds its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamProperty {
    /// The property name, e.g. `content`.
    pub name: String,
    /// The property holding the media type (`@Core.MediaType`).
    pub media_type: String,
    /// The property holding the file name (`@Core.ContentDisposition.Filename`).
    pub file_name: Option<String>,
}

/// An action bound to one entity of a set (`POST <set>(<key>)/<Namespace>.<name>`), with its
/// parameters (a JSON object in the request body) and what it returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The action name.
    pub name: String,
    /// The parameters after the binding parameter (`in`), in order.
    pub parameters: Vec<Property>,
    /// What it returns: the bound entity type, a complex type, or nothing.
    pub returns: ActionReturn,
}

/// The return type of an [`Action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionReturn {
    /// Nothing (204).
    Nothing,
    /// One entity of the binding parameter's type.
    BoundEntity,
    /// One instance of the named complex type.
    Complex(String),
}

/// An entity set of the container.
#[derive(Debug, Clone, PartialEq)]
pub struct EntitySet {
    /// The set's name, the first segment of its URLs.
    pub name: String,
    /// The type of its entities.
    pub entity_type: EntityType,
}

/// An entity type: keys and structural properties.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityType {
    /// The type's simple name (qualified with the service namespace in CSDL).
    pub name: String,
    /// Indexes into `properties` of the key properties, in key order.
    pub keys: Vec<usize>,
    /// The properties, in declaration order; an [`Entity`] holds its values in this order.
    pub properties: Vec<Property>,
    /// The stream property, if the entity has media content.
    pub stream: Option<StreamProperty>,
    /// The actions bound to one entity of this type.
    pub actions: Vec<Action>,
    /// Whether collections are paged by key (an opaque `$skiptoken` the store understands,
    /// kept in [`crate::query::QueryOptions::skiptoken_text`]) instead of by absolute index.
    pub keyset_paging: bool,
}

/// A structural property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The property name.
    pub name: String,
    /// Its primitive type.
    pub ty: EdmType,
    /// Whether it may be null (key properties never are).
    pub nullable: bool,
    /// The `MaxLength` facet of strings and binaries.
    pub max_length: Option<u32>,
}

/// The primitive types the service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdmType {
    /// `Edm.String`
    String,
    /// `Edm.Boolean`
    Boolean,
    /// `Edm.Int32`
    Int32,
    /// `Edm.Int64`
    Int64,
    /// `Edm.Decimal`
    Decimal,
    /// `Edm.Double`
    Double,
    /// `Edm.DateTimeOffset`, declared with `Precision="3"` (rendered with milliseconds).
    DateTimeOffset,
    /// `Edm.Date`
    Date,
    /// `Edm.Guid`
    Guid,
    /// `Edm.Binary`
    Binary,
    /// A JSON object of any members: SAP CAP's `cds.Map`, in CSDL an empty open complex type
    /// named [`MAP_TYPE`] in the service's namespace. Not usable in `$filter` or `$orderby`.
    Map,
}

/// The simple name of the open complex type that [`EdmType::Map`] properties have, as CAP 9
/// compiles `cds.Map` (`<ComplexType Name="cds_Map" OpenType="true"/>`).
pub const MAP_TYPE: &str = "cds_Map";

/// An unbound function with its function import (no parameters yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// The function (and function import) name.
    pub name: String,
    /// What it returns.
    pub returns: ReturnType,
}

/// A function's return type: entities of an entity type of this service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnType {
    /// The simple name of the entity type.
    pub entity_type: String,
    /// A collection of entities (`Collection(...)`) rather than one entity.
    pub collection: bool,
}

/// A primitive value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `Edm.String`
    String(String),
    /// `Edm.Boolean`
    Bool(bool),
    /// `Edm.Int32` / `Edm.Int64`
    Int(i64),
    /// `Edm.Decimal`, as its decimal text (compared numerically through `f64`).
    Decimal(String),
    /// `Edm.Double`
    Double(f64),
    /// `Edm.DateTimeOffset`, rendered as `2026-11-22T12:00:00.000Z`.
    DateTimeOffset(DateTime<Utc>),
    /// `Edm.Date`
    Date(NaiveDate),
    /// `Edm.Guid`, lower-case hyphenated text.
    Guid(String),
    /// `Edm.Binary`, rendered base64url.
    Binary(Vec<u8>),
    /// An [`EdmType::Map`] value: a JSON object.
    Map(serde_json::Map<String, serde_json::Value>),
}

/// One row: its values in the order of its type's properties (a missing value reads as null).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entity {
    values: Vec<Value>,
}

impl Service {
    /// A service with the given namespace and nothing in it.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            entity_sets: Vec::new(),
            functions: Vec::new(),
            complex_types: Vec::new(),
        }
    }

    /// Adds a complex type.
    #[must_use]
    pub fn complex_type(mut self, name: impl Into<String>, properties: Vec<Property>) -> Self {
        self.complex_types.push(ComplexType {
            name: name.into(),
            properties,
        });
        self
    }

    /// The complex type of that name.
    pub fn find_complex_type(&self, name: &str) -> Option<&ComplexType> {
        self.complex_types.iter().find(|t| t.name == name)
    }

    /// Whether some property of some entity or complex type is an [`EdmType::Map`].
    pub fn uses_map(&self) -> bool {
        self.entity_types()
            .flat_map(|t| t.properties.iter())
            .chain(self.complex_types.iter().flat_map(|t| t.properties.iter()))
            .chain(
                self.entity_types()
                    .flat_map(|t| t.actions.iter())
                    .flat_map(|a| a.parameters.iter()),
            )
            .any(|p| p.ty == EdmType::Map)
    }

    /// Adds an entity set of the given type.
    #[must_use]
    pub fn entity_set(mut self, name: impl Into<String>, entity_type: EntityType) -> Self {
        self.entity_sets.push(EntitySet {
            name: name.into(),
            entity_type,
        });
        self
    }

    /// Adds an unbound function and its function import.
    #[must_use]
    pub fn function(mut self, function: Function) -> Self {
        self.functions.push(function);
        self
    }

    /// The entity set of that name.
    pub fn find_entity_set(&self, name: &str) -> Option<&EntitySet> {
        self.entity_sets.iter().find(|s| s.name == name)
    }

    /// The function of that name.
    pub fn find_function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The entity type of that simple name (the first set's copy if several sets share it).
    pub fn find_entity_type(&self, name: &str) -> Option<&EntityType> {
        self.entity_types().find(|t| t.name == name)
    }

    /// The distinct entity types of the sets, in set order.
    pub fn entity_types(&self) -> impl Iterator<Item = &EntityType> {
        self.entity_sets
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                !self.entity_sets[..*i]
                    .iter()
                    .any(|earlier| earlier.entity_type.name == s.entity_type.name)
            })
            .map(|(_, s)| &s.entity_type)
    }

    /// `Namespace.Name`.
    pub fn qualified(&self, name: &str) -> String {
        format!("{}.{}", self.namespace, name)
    }
}

impl EntityType {
    /// A type with that name and no properties yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            keys: Vec::new(),
            properties: Vec::new(),
            stream: None,
            actions: Vec::new(),
            keyset_paging: false,
        }
    }

    /// Adds a key property (made non-nullable).
    #[must_use]
    pub fn key(mut self, property: Property) -> Self {
        self.keys.push(self.properties.len());
        self.properties.push(Property {
            nullable: false,
            ..property
        });
        self
    }

    /// Adds a non-key property.
    #[must_use]
    pub fn property(mut self, property: Property) -> Self {
        self.properties.push(property);
        self
    }

    /// Gives the type a stream property `name` whose media type is in the property
    /// `media_type` and whose file name (if any) is in `file_name`.
    #[must_use]
    pub fn stream(mut self, name: &str, media_type: &str, file_name: Option<&str>) -> Self {
        self.stream = Some(StreamProperty {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            file_name: file_name.map(str::to_owned),
        });
        self
    }

    /// Binds an action to the type's entities.
    #[must_use]
    pub fn action(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    /// Pages collections of this type by key (see [`EntityType::keyset_paging`]).
    #[must_use]
    pub fn keyset_paging(mut self) -> Self {
        self.keyset_paging = true;
        self
    }

    /// The bound action of that name.
    pub fn find_action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The index of the property of that name.
    pub fn property_index(&self, name: &str) -> Option<usize> {
        self.properties.iter().position(|p| p.name == name)
    }

    /// Whether the property at that index is a key property.
    pub fn is_key(&self, index: usize) -> bool {
        self.keys.contains(&index)
    }

    /// Builds an entity from `(property name, value)` pairs; unnamed properties are null.
    /// `None` if a name is not a property of this type.
    pub fn entity<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Option<Entity> {
        let mut values = vec![Value::Null; self.properties.len()];
        for (name, value) in pairs {
            *values.get_mut(self.property_index(name)?)? = value;
        }
        Some(Entity::new(values))
    }
}

impl Property {
    /// A nullable property without facets.
    pub fn new(name: impl Into<String>, ty: EdmType) -> Self {
        Self {
            name: name.into(),
            ty,
            nullable: true,
            max_length: None,
        }
    }

    /// The same property, not nullable.
    #[must_use]
    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    /// The same property with a `MaxLength`.
    #[must_use]
    pub fn max_length(mut self, max_length: u32) -> Self {
        self.max_length = Some(max_length);
        self
    }
}

impl EdmType {
    /// The qualified CSDL name, e.g. `Edm.String`.
    pub fn name(self) -> &'static str {
        match self {
            EdmType::String => "Edm.String",
            EdmType::Boolean => "Edm.Boolean",
            EdmType::Int32 => "Edm.Int32",
            EdmType::Int64 => "Edm.Int64",
            EdmType::Decimal => "Edm.Decimal",
            EdmType::Double => "Edm.Double",
            EdmType::DateTimeOffset => "Edm.DateTimeOffset",
            EdmType::Date => "Edm.Date",
            EdmType::Guid => "Edm.Guid",
            EdmType::Binary => "Edm.Binary",
            EdmType::Map => MAP_TYPE,
        }
    }
}

impl Function {
    /// A function of that name; say what it returns with [`Function::returns_collection_of`] or
    /// [`Function::returns_entity_of`] (until then: a collection of the type of the same name).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            returns: ReturnType {
                entity_type: name.clone(),
                collection: true,
            },
            name,
        }
    }

    /// The same function, returning a collection of entities of that type.
    #[must_use]
    pub fn returns_collection_of(mut self, entity_type: impl Into<String>) -> Self {
        self.returns = ReturnType {
            entity_type: entity_type.into(),
            collection: true,
        };
        self
    }

    /// The same function, returning one entity of that type.
    #[must_use]
    pub fn returns_entity_of(mut self, entity_type: impl Into<String>) -> Self {
        self.returns = ReturnType {
            entity_type: entity_type.into(),
            collection: false,
        };
        self
    }
}

impl Entity {
    /// An entity from its values in property order.
    pub fn new(values: Vec<Value>) -> Self {
        Self { values }
    }

    /// The value of the property at that index (null if absent).
    pub fn get(&self, index: usize) -> &Value {
        self.values.get(index).unwrap_or(&Value::Null)
    }

    /// All values, in property order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(t: DateTime<Utc>) -> Self {
        Value::DateTimeOffset(t)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The seed service of the app, as a test fixture: `CatalogService` with `Buckets` and
/// `getBuckets()`.
#[cfg(test)]
pub(crate) fn catalog() -> Service {
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

/// A media entity fixture: `Docs` with a stream property, a JSON-object property, keyset
/// paging, two bound actions and a complex result type.
#[cfg(test)]
pub(crate) fn media() -> Service {
    Service::new("CatalogService")
        .entity_set(
            "Docs",
            EntityType::new("Docs")
                .key(Property::new("ID", EdmType::Guid))
                .property(Property::new("fileName", EdmType::String))
                .property(Property::new("mediaType", EdmType::String))
                .property(Property::new("attributes", EdmType::Map))
                .stream("content", "mediaType", Some("fileName"))
                .action(Action {
                    name: "finalize".into(),
                    parameters: vec![Property::new("size", EdmType::Int64)],
                    returns: ActionReturn::BoundEntity,
                })
                .action(Action {
                    name: "downloadUrl".into(),
                    parameters: vec![],
                    returns: ActionReturn::Complex("Presigned".into()),
                })
                .keyset_paging(),
        )
        .complex_type(
            "Presigned",
            vec![
                Property::new("url", EdmType::String).not_null(),
                Property::new("headers", EdmType::Map),
            ],
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_and_lookups() {
        let s = catalog();
        let t = s.find_entity_type("Buckets").expect("type");
        assert_eq!(t.keys, vec![0]);
        assert!(!t.properties[0].nullable);
        assert_eq!(t.property_index("created"), Some(2));
        assert!(s.find_function("getBuckets").is_some());
        let e = t.entity([("name", "n".into())]).expect("entity");
        assert_eq!(e.get(1), &Value::from("n"));
        assert!(e.get(0).is_null() && e.get(99).is_null());
        assert!(t.entity([("nope", Value::Null)]).is_none());
    }

    #[test]
    fn shared_types_are_listed_once() {
        let t = EntityType::new("T").key(Property::new("k", EdmType::Int32));
        let s = Service::new("N")
            .entity_set("A", t.clone())
            .entity_set("B", t);
        assert_eq!(s.entity_types().count(), 1);
    }
}
