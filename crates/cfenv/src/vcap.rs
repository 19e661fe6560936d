//! The raw stage: [`Vcap`], the `VCAP_SERVICES` document as written, its [`ServiceInstance`]s,
//! and lookup of one instance by name, label or tag ([`ServiceKind`]).
//!
//! Parsing checks only the envelope (an object of arrays of instance objects with string
//! `label`, `name`, `plan`, `tags`, …); credentials stay raw JSON until a typed binding
//! ([`crate::XsuaaBinding`] and friends) validates them. Keys we do not model are kept, so
//! [`Vcap::to_json`] writes back everything that was read.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::env::vars;
use crate::error::{InstanceRef, Query};
use crate::fields::{Ctx, Obj};
use crate::{
    AlertNotificationBinding, CredStoreBinding, Env, Error, PostgresBinding, PrivateLinkBinding,
    Problem, UserProvided, XsuaaBinding,
};

/// The kinds of service this crate has typed bindings for.
///
/// Each kind has a label (the service offering name, the key in `VCAP_SERVICES`) and the tags
/// that identify it when the label differs (a user-provided service standing in for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// SAP Authorization and Trust Management service (XSUAA).
    Xsuaa,
    /// SAP Credential Store.
    CredStore,
    /// SAP Private Link service.
    PrivateLink,
    /// PostgreSQL on SAP BTP, hyperscaler option.
    Postgres,
    /// A user-provided service (`cf create-user-provided-service`).
    UserProvided,
    /// SAP Alert Notification service for SAP BTP.
    AlertNotification,
}

impl ServiceKind {
    /// Every kind.
    pub const ALL: [ServiceKind; 6] = [
        Self::Xsuaa,
        Self::CredStore,
        Self::PrivateLink,
        Self::Postgres,
        Self::UserProvided,
        Self::AlertNotification,
    ];

    /// The label instances of this kind carry on Cloud Foundry.
    pub fn label(self) -> &'static str {
        match self {
            Self::Xsuaa => "xsuaa",
            Self::CredStore => "credstore",
            Self::PrivateLink => "privatelink",
            Self::Postgres => "postgresql-db",
            Self::UserProvided => "user-provided",
            Self::AlertNotification => "alert-notification",
        }
    }

    /// The main tag that identifies this kind, if any (user-provided services have none).
    pub fn tag(self) -> Option<&'static str> {
        self.tags().first().copied()
    }

    /// Every tag that identifies this kind in the tag stage of a lookup.
    ///
    /// PostgreSQL uses `postgresql` and `postgres`, not the `relational`/`database` tags the
    /// BTP offering carries, because SAP HANA bindings carry those too.
    pub fn tags(self) -> &'static [&'static str] {
        match self {
            Self::Xsuaa => &["xsuaa"],
            Self::CredStore => &["credstore"],
            Self::PrivateLink => &["privatelink"],
            Self::Postgres => &["postgresql", "postgres"],
            Self::UserProvided => &[],
            Self::AlertNotification => &["alert-notification"],
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Instance keys this crate models; every other key goes to [`ServiceInstance::extra`].
const KNOWN_KEYS: [&str; 7] = [
    "label",
    "name",
    "plan",
    "tags",
    "instance_name",
    "binding_name",
    "credentials",
];

/// One bound service instance, as written in `VCAP_SERVICES`.
///
/// The credentials are private: `Debug` prints only their field *names*, and the typed
/// bindings ([`Vcap::xsuaa`] and friends) or [`ServiceInstance::expose_credentials`] read them.
#[derive(Clone, PartialEq)]
pub struct ServiceInstance {
    /// The service offering, e.g. `xsuaa` or `user-provided`.
    pub label: String,
    /// The name lookups use: the binding name if set, else the instance name.
    pub name: String,
    /// The service plan; user-provided services have none.
    pub plan: Option<String>,
    /// Tags from the offering or from `cf cups -t`.
    pub tags: Vec<String>,
    /// The instance name as created with `cf create-service`.
    pub instance_name: Option<String>,
    /// The binding name, if the binding was given one (usually not).
    pub binding_name: Option<String>,
    credentials: Option<Map<String, Value>>,
    extra: Map<String, Value>,
    /// How modelled keys that hold nothing were written (`null`, `""`, `[]`), so `to_json`
    /// writes them back the same way; a key missing here was missing in the input.
    blank: Map<String, Value>,
    /// Whether `label` was missing or blank and the group key stood in for it.
    implicit_label: bool,
}

impl ServiceInstance {
    /// A new instance with this label and name (also used as instance name), no plan, no tags
    /// and empty credentials; add the rest with the `with_*` methods.
    pub fn new(label: impl Into<String>, name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            label: label.into(),
            instance_name: Some(name.clone()),
            name,
            plan: None,
            tags: Vec::new(),
            binding_name: None,
            credentials: Some(Map::new()),
            extra: Map::new(),
            // Written the way Cloud Foundry writes them.
            blank: [
                ("tags".to_owned(), Value::Array(Vec::new())),
                ("binding_name".to_owned(), Value::Null),
            ]
            .into_iter()
            .collect(),
            implicit_label: false,
        }
    }

    /// Sets the plan.
    pub fn with_plan(mut self, plan: impl Into<String>) -> Self {
        self.plan = Some(plan.into());
        self
    }

    /// Sets the tags.
    pub fn with_tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the credentials object.
    pub fn with_credentials(mut self, credentials: Map<String, Value>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The names of the credential fields, never their values.
    pub fn credential_fields(&self) -> Vec<&str> {
        self.credentials
            .iter()
            .flat_map(|map| map.keys().map(String::as_str))
            .collect()
    }

    /// Whether the instance carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The raw credentials object, or `None` if the instance has none. The values are secrets:
    /// use this only to hand them to code that needs them, never to print them.
    pub fn expose_credentials(&self) -> Option<&Map<String, Value>> {
        self.credentials.as_ref()
    }

    /// Every other key as written (`provider`, `instance_guid`, `binding_guid`,
    /// `syslog_drain_url`, `volume_mounts`, unknown keys). A syslog drain URL can hold
    /// credentials, so `Debug` prints only these keys' names too.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// The instance as named in errors.
    pub(crate) fn to_ref(&self) -> InstanceRef {
        InstanceRef {
            name: self.name.clone(),
            label: self.label.clone(),
        }
    }

    /// The credentials with error context, or the error for missing credentials.
    pub(crate) fn credentials_obj<'a>(&'a self, origin: &'a str) -> Result<Obj<'a>, Error> {
        let ctx = Ctx::Instance {
            origin,
            instance: &self.name,
            label: &self.label,
        };
        match &self.credentials {
            Some(map) => Ok(Obj::new(ctx, "credentials", map)),
            None => Err(crate::fields::error_at(
                ctx,
                "credentials".to_owned(),
                Problem::Missing,
            )),
        }
    }

    fn from_raw(
        origin: &str,
        group: &str,
        path: String,
        map: &Map<String, Value>,
    ) -> Result<Self, Error> {
        let obj = Obj::new(Ctx::Document { origin }, path, map);
        // Cloud Foundry always writes `label`; hand-written documents sometimes leave it out,
        // and then the group key is the label, as it is on Cloud Foundry.
        let label = obj.opt_string("label")?;
        let credentials = match map.get("credentials") {
            None | Some(Value::Null) => None,
            Some(Value::Object(credentials)) => Some(credentials.clone()),
            Some(_) => return Err(obj.error("credentials", Problem::ExpectedObject)),
        };
        let mut instance = Self {
            implicit_label: label.is_none(),
            label: label.unwrap_or_else(|| group.to_owned()),
            name: obj.string("name")?,
            plan: obj.opt_string("plan")?,
            tags: obj.string_list("tags")?,
            instance_name: obj.opt_string("instance_name")?,
            binding_name: obj.opt_string("binding_name")?,
            credentials,
            extra: map
                .iter()
                .filter(|(key, _)| !KNOWN_KEYS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            blank: Map::new(),
        };
        for (key, value) in map {
            let holds_nothing = match key.as_str() {
                "label" => instance.implicit_label,
                "plan" => instance.plan.is_none(),
                "tags" => instance.tags.is_empty(),
                "instance_name" => instance.instance_name.is_none(),
                "binding_name" => instance.binding_name.is_none(),
                "credentials" => instance.credentials.is_none(),
                _ => false,
            };
            if holds_nothing {
                instance.blank.insert(key.clone(), value.clone());
            }
        }
        Ok(instance)
    }

    /// The instance as a JSON object, listed under `group`.
    fn to_value(&self, group: &str) -> Value {
        let mut map = self.extra.clone();
        // A modelled key that holds nothing is written as it was read, or left out.
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value.or_else(|| self.blank.get(key).cloned()) {
                map.insert(key.to_owned(), value);
            }
        };
        let label = (!self.implicit_label || self.label != group).then_some(self.label.as_str());
        put("label", label.map(Value::from));
        put("name", Some(Value::from(self.name.as_str())));
        put("plan", self.plan.as_deref().map(Value::from));
        let tags = (!self.tags.is_empty()).then(|| Value::from(self.tags.clone()));
        put("tags", tags);
        put(
            "instance_name",
            self.instance_name.as_deref().map(Value::from),
        );
        put(
            "binding_name",
            self.binding_name.as_deref().map(Value::from),
        );
        put("credentials", self.credentials.clone().map(Value::Object));
        Value::Object(map)
    }
}

impl fmt::Debug for ServiceInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceInstance")
            .field("label", &self.label)
            .field("name", &self.name)
            .field("plan", &self.plan)
            .field("tags", &self.tags)
            .field("instance_name", &self.instance_name)
            .field("binding_name", &self.binding_name)
            .field("credential_fields", &self.credential_fields())
            .field("extra_fields", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One line of [`Vcap::summary`]: what is bound, without any value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceSummary {
    /// The service offering.
    pub label: String,
    /// The instance (or binding) name.
    pub name: String,
    /// The plan, if any.
    pub plan: Option<String>,
    /// The tags.
    pub tags: Vec<String>,
    /// The credential field names (never values); empty if the binding has no credentials.
    pub credential_fields: Vec<String>,
}

impl fmt::Display for InstanceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (label {}, plan {}, tags [{}]): credentials {{{}}}",
            self.name,
            self.label,
            self.plan.as_deref().unwrap_or("-"),
            self.tags.join(", "),
            self.credential_fields.join(", "),
        )
    }
}

/// The `VCAP_SERVICES` document as written: every bound instance, in document order.
///
/// Two documents are equal when their instances and grouping are; where they were read from
/// is not compared.
#[derive(Debug, Clone)]
pub struct Vcap {
    /// The variable or file the document came from, for error messages.
    origin: String,
    /// The top-level key each instance was listed under, parallel to `instances`; instances
    /// with the same key are adjacent.
    groups: Vec<String>,
    instances: Vec<ServiceInstance>,
}

impl PartialEq for Vcap {
    fn eq(&self, other: &Self) -> bool {
        self.groups == other.groups && self.instances == other.instances
    }
}

impl Vcap {
    /// A document holding `instances`, listed under their labels (instances with the same
    /// label are grouped, in order of first appearance). Its origin is `VCAP_SERVICES`.
    pub fn new(instances: Vec<ServiceInstance>) -> Self {
        let mut labels: Vec<String> = Vec::new();
        for instance in &instances {
            if !labels.contains(&instance.label) {
                labels.push(instance.label.clone());
            }
        }
        let mut sorted = instances;
        // A stable sort keeps the order inside each label.
        sorted.sort_by_key(|instance| labels.iter().position(|l| *l == instance.label));
        Self {
            origin: vars::VCAP_SERVICES.to_owned(),
            groups: sorted.iter().map(|i| i.label.clone()).collect(),
            instances: sorted,
        }
    }

    /// Reads the document from the environment the way @sap/xsenv does: the file named by
    /// `VCAP_SERVICES_FILE_PATH` if that is set, else `VCAP_SERVICES` (empty counts as unset).
    /// A file that cannot be read is an error, not a reason to fall back. Kubernetes-style
    /// `SERVICE_BINDING_ROOT` directories are not read.
    pub fn from_env(env: &Env) -> Result<Self, Error> {
        if let Some(path) = env.var(vars::VCAP_SERVICES_FILE_PATH) {
            return Self::from_file(Path::new(&path));
        }
        if let Some(json) = env.var(vars::VCAP_SERVICES) {
            return Self::from_json(&json, vars::VCAP_SERVICES);
        }
        Err(Error::NotSet {
            variables: &[vars::VCAP_SERVICES_FILE_PATH, vars::VCAP_SERVICES],
        })
    }

    /// Reads the document from a file; errors name the file's path.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::ReadFile {
            variable: vars::VCAP_SERVICES_FILE_PATH,
            path: path.to_owned(),
            error,
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        Self::from_json(text, &path.display().to_string())
    }

    /// Parses a document; `origin` (the variable or file name) is what errors name.
    pub fn from_json(json: &str, origin: &str) -> Result<Self, Error> {
        let top: TopLevel = serde_json::from_str(json).map_err(|e| Error::json(origin, &e))?;
        let shape = |path: &str, problem| Error::Shape {
            origin: origin.to_owned(),
            path: path.to_owned(),
            problem,
        };
        let entries = match top {
            TopLevel::Object {
                duplicate: Some(key),
                ..
            } => return Err(shape(&key, Problem::DuplicateKey)),
            TopLevel::Object { entries, .. } => entries,
            TopLevel::Other => return Err(shape("top level", Problem::ExpectedObject)),
        };
        let mut groups = Vec::new();
        let mut instances = Vec::new();
        for (key, value) in &entries {
            let Value::Array(items) = value else {
                return Err(shape(key, Problem::ExpectedArray));
            };
            for (i, item) in items.iter().enumerate() {
                let path = format!("{key}[{i}]");
                let Value::Object(map) = item else {
                    return Err(shape(&path, Problem::ExpectedObject));
                };
                instances.push(ServiceInstance::from_raw(origin, key, path, map)?);
                groups.push(key.clone());
            }
        }
        Ok(Self {
            origin: origin.to_owned(),
            groups,
            instances,
        })
    }

    /// Writes the document back as compact JSON: the same top-level keys in the same order,
    /// and every instance key that was read. `from_json(&v.to_json(), _) == v`.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        let mut start = 0;
        while start < self.instances.len() {
            let key = &self.groups[start];
            let end = self.groups[start..]
                .iter()
                .position(|g| g != key)
                .map_or(self.instances.len(), |n| start + n);
            if start > 0 {
                out.push(',');
            }
            out.push_str(&Value::from(key.as_str()).to_string());
            out.push(':');
            let items: Vec<Value> = self.instances[start..end]
                .iter()
                .map(|instance| instance.to_value(key))
                .collect();
            out.push_str(&Value::Array(items).to_string());
            start = end;
        }
        out.push('}');
        out
    }

    /// Where the document came from (a variable name or a file path).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Every instance, in document order.
    pub fn instances(&self) -> &[ServiceInstance] {
        &self.instances
    }

    /// What is bound, without values: for `bridge env check`.
    pub fn summary(&self) -> Vec<InstanceSummary> {
        self.instances
            .iter()
            .map(|instance| InstanceSummary {
                label: instance.label.clone(),
                name: instance.name.clone(),
                plan: instance.plan.clone(),
                tags: instance.tags.clone(),
                credential_fields: instance
                    .credential_fields()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            })
            .collect()
    }

    /// Finds the one instance of `kind`.
    ///
    /// - With a name: the instance whose `name` is exactly that, whatever its label
    ///   (as @sap/xsenv's string query); none is [`Error::NotBound`].
    /// - Without: the instances whose label is [`ServiceKind::label`]; if there are none,
    ///   the instances carrying one of [`ServiceKind::tags`].
    ///
    /// Zero matches is [`Error::NotBound`] (listing what is bound); more than one is
    /// [`Error::Ambiguous`] (listing the matches), also for two instances with the same name.
    pub fn find(&self, kind: ServiceKind, name: Option<&str>) -> Result<&ServiceInstance, Error> {
        match name {
            Some(name) => self.by_name(name),
            None => {
                let by_label: Vec<&ServiceInstance> = self
                    .instances
                    .iter()
                    .filter(|i| i.label == kind.label())
                    .collect();
                let matches = if by_label.is_empty() {
                    self.instances
                        .iter()
                        .filter(|i| kind.tags().iter().any(|tag| i.has_tag(tag)))
                        .collect()
                } else {
                    by_label
                };
                self.one(matches, Query::Kind(kind))
            }
        }
    }

    /// The instance named `name`, whatever its label: for services without a typed binding.
    pub fn raw(&self, name: &str) -> Result<&ServiceInstance, Error> {
        self.by_name(name)
    }

    /// The XSUAA binding (see [`Vcap::find`] for how `name` selects it).
    pub fn xsuaa(&self, name: Option<&str>) -> Result<XsuaaBinding, Error> {
        XsuaaBinding::parse(&self.origin, self.find(ServiceKind::Xsuaa, name)?)
    }

    /// The Credential Store binding (see [`Vcap::find`]).
    pub fn credstore(&self, name: Option<&str>) -> Result<CredStoreBinding, Error> {
        CredStoreBinding::parse(&self.origin, self.find(ServiceKind::CredStore, name)?)
    }

    /// The Private Link binding (see [`Vcap::find`]).
    pub fn privatelink(&self, name: Option<&str>) -> Result<PrivateLinkBinding, Error> {
        PrivateLinkBinding::parse(&self.origin, self.find(ServiceKind::PrivateLink, name)?)
    }

    /// The PostgreSQL binding (see [`Vcap::find`]).
    pub fn postgres(&self, name: Option<&str>) -> Result<PostgresBinding, Error> {
        PostgresBinding::parse(&self.origin, self.find(ServiceKind::Postgres, name)?)
    }

    /// The SAP Alert Notification service binding (see [`Vcap::find`]).
    pub fn alert_notification(
        &self,
        name: Option<&str>,
    ) -> Result<AlertNotificationBinding, Error> {
        AlertNotificationBinding::parse(
            &self.origin,
            self.find(ServiceKind::AlertNotification, name)?,
        )
    }

    /// The credentials of the instance named `name`, whatever its label (usually a
    /// user-provided service).
    pub fn user_provided(&self, name: &str) -> Result<UserProvided, Error> {
        UserProvided::parse(&self.origin, self.by_name(name)?)
    }

    fn by_name(&self, name: &str) -> Result<&ServiceInstance, Error> {
        let matches = self.instances.iter().filter(|i| i.name == name).collect();
        self.one(matches, Query::Name(name.to_owned()))
    }

    fn one<'a>(
        &self,
        matches: Vec<&'a ServiceInstance>,
        query: Query,
    ) -> Result<&'a ServiceInstance, Error> {
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::NotBound {
                origin: self.origin.clone(),
                query,
                bound: self.instances.iter().map(ServiceInstance::to_ref).collect(),
            }),
            _ => Err(Error::Ambiguous {
                origin: self.origin.clone(),
                query,
                matches: matches.iter().map(|i| i.to_ref()).collect(),
            }),
        }
    }
}

/// The top level of the document, read with its keys in document order and duplicates
/// noticed (a `serde_json::Map` would sort the keys and keep only the last duplicate).
enum TopLevel {
    Object {
        entries: Vec<(String, Value)>,
        duplicate: Option<String>,
    },
    /// Any other JSON value; accepted here so the error can be ours, not serde's (serde's
    /// "invalid type" messages quote the value).
    Other,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        let mut duplicate = None;
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            if !seen.insert(key.clone()) && duplicate.is_none() {
                duplicate = Some(key.clone());
            }
            entries.push((key, value));
        }
        Ok(TopLevel::Object { entries, duplicate })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_unit<E>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_must_be_an_object_of_arrays() {
        let cases: &[(&str, &str)] = &[
            ("[]", "VCAP_SERVICES: top level: expected an object"),
            ("\"x\"", "VCAP_SERVICES: top level: expected an object"),
            ("null", "VCAP_SERVICES: top level: expected an object"),
            (r#"{"a": {}}"#, "VCAP_SERVICES: a: expected an array"),
            (r#"{"a": [1]}"#, "VCAP_SERVICES: a[0]: expected an object"),
            (r#"{"a": [], "a": []}"#, "VCAP_SERVICES: a: duplicate key"),
            (r#"{"a": [{}]}"#, "VCAP_SERVICES: a[0].name: missing"),
            (
                r#"{"a": [{"name": "n", "tags": ["x", 2]}]}"#,
                "VCAP_SERVICES: a[0].tags[1]: expected a string",
            ),
            (
                r#"{"a": [{"name": "n", "credentials": []}]}"#,
                "VCAP_SERVICES: a[0].credentials: expected an object",
            ),
        ];
        for (json, want) in cases {
            let got = Vcap::from_json(json, "VCAP_SERVICES").map(|_| ());
            assert_eq!(
                got.map_err(|e| e.to_string()),
                Err((*want).to_owned()),
                "{json}"
            );
        }
    }

    #[test]
    fn label_defaults_to_the_group_key() {
        let vcap = Vcap::from_json(r#"{"xsuaa": [{"name": "u"}]}"#, "VCAP_SERVICES")
            .expect("valid document");
        assert_eq!(vcap.instances()[0].label, "xsuaa");
    }

    #[test]
    fn new_groups_by_label_and_round_trips() {
        let vcap = Vcap::new(vec![
            ServiceInstance::new("a", "a1"),
            ServiceInstance::new("b", "b1"),
            ServiceInstance::new("a", "a2"),
        ]);
        let names: Vec<&str> = vcap.instances().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a1", "a2", "b1"]);
        let again = Vcap::from_json(&vcap.to_json(), "VCAP_SERVICES").expect("own output");
        assert_eq!(again, vcap);
    }

    #[test]
    fn query_display_lists_label_and_tags() {
        assert_eq!(
            Query::Kind(ServiceKind::Postgres).to_string(),
            "with label `postgresql-db` or tag `postgresql` or `postgres`"
        );
        assert_eq!(
            Query::Kind(ServiceKind::UserProvided).to_string(),
            "with label `user-provided`"
        );
        assert_eq!(Query::Name("x".into()).to_string(), "named `x`");
    }
}
