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
}

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
        }
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
