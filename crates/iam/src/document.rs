//! The policy document model: [`PolicyDocument`] and its [`Statement`]s, parsed and checked
//! against IAM's grammar (docs/protocols.md §Policy grammar), with every pattern compiled at
//! load time, and written back as JSON.
//!
//! Parsing walks a `serde_json::Value` by hand rather than deriving, so that every error names
//! the element: `Statement[1] (Sid "Read").Action[0]: "s3GetObject" is not of the form
//! "service:action" (or "*")`. The local STS returns these messages as
//! `MalformedPolicyDocument`.
//!
//! Element names are case-sensitive, unknown elements are errors, Sids must be unique. A
//! missing `Version` is accepted and means `2008-10-17`, as in IAM (so no policy variables).

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::arn::{self, ArnPattern};
use crate::condition::Conditions;
use crate::error::{PolicyError, quote};
use crate::eval::RequestContext;
use crate::pattern::{Pattern, Syntax};
use crate::principal::{Principals, Via};

/// What a policy document is attached to, which decides the elements its statements may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// An identity-based policy (attached to a user or role) or a session policy: `Resource`
    /// (or `NotResource`) required, no `Principal`.
    Identity,
    /// A resource-based policy such as a bucket policy: `Resource` and exactly one of
    /// `Principal` / `NotPrincipal` required.
    Resource,
    /// A role's trust policy: `Principal` required, no `NotPrincipal`, no `Resource`.
    Trust,
}

impl PolicyKind {
    fn describe(self) -> &'static str {
        match self {
            PolicyKind::Identity => "an identity or session policy",
            PolicyKind::Resource => "a resource-based policy",
            PolicyKind::Trust => "a trust policy",
        }
    }
}

/// The policy language version, from the `Version` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: the current version; policy variables (`${aws:username}`) are expanded.
    V2012_10_17,
    /// `2008-10-17`: the legacy version; `${…}` is literal text.
    V2008_10_17,
}

impl Version {
    /// The version as written in a document.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2012_10_17 => "2012-10-17",
            Version::V2008_10_17 => "2008-10-17",
        }
    }
}

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `"Allow"`.
    Allow,
    /// `"Deny"`.
    Deny,
}

impl Effect {
    /// The effect as written in a document.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A parsed, checked IAM policy document, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    kind: PolicyKind,
    version: Option<Version>,
    id: Option<String>,
    /// Whether `Statement` was a single object rather than an array.
    single: bool,
    statements: Vec<Statement>,
}

/// One statement of a [`PolicyDocument`].
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sid: Option<String>,
    effect: Effect,
    principal: Option<Negatable<Principals>>,
    action: Element<Pattern>,
    resource: Option<Element<ArnPattern>>,
    condition: Option<Conditions>,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq)]
struct Negatable<T> {
    not: bool,
    value: T,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: the strings as written and compiled.
#[derive(Debug, Clone, PartialEq)]
struct Element<P> {
    not: bool,
    raw: OneOrMany,
    patterns: Box<[P]>,
}

/// A string-valued element: one string or an array of them, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        };
        slice.iter().map(String::as_str)
    }

    /// The path of item `i` under `base`: `base` for a single string, `base[i]` in an array.
    pub(crate) fn item_path(&self, base: &str, i: usize) -> String {
        match self {
            OneOrMany::One(_) => base.to_owned(),
            OneOrMany::Many(_) => format!("{base}[{i}]"),
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        match self {
            OneOrMany::One(s) => Value::String(s.clone()),
            OneOrMany::Many(v) => Value::Array(v.iter().cloned().map(Value::String).collect()),
        }
    }
}

/// Reads a string-or-array-of-strings element at `path`.
pub(crate) fn one_or_many(value: &Value, path: &str) -> Result<OneOrMany, PolicyError> {
    match value {
        Value::String(s) => Ok(OneOrMany::One(s.clone())),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(PolicyError::element(path, "must not be an empty array"));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(PolicyError::element(
                        format!("{path}[{i}]"),
                        "expected a string",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(OneOrMany::Many)
        }
        _ => Err(PolicyError::element(
            path,
            "expected a string or an array of strings",
        )),
    }
}

const DOCUMENT_ELEMENTS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl PolicyDocument {
    /// Parses an identity-based or session policy ([`PolicyKind::Identity`]), the kind the
    /// local STS receives in `AssumeRole`'s `Policy` parameter.
    pub fn from_json(text: &str) -> Result<PolicyDocument, PolicyError> {
        PolicyDocument::from_json_as(text, PolicyKind::Identity)
    }

    /// Parses a policy document of the given kind.
    pub fn from_json_as(text: &str, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PolicyError::json(&e))?;
        PolicyDocument::from_value(&value, kind)
    }

    /// Parses a policy document that is already JSON (for example embedded in a larger file).
    pub fn from_value(value: &Value, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
        let Value::Object(map) = value else {
            return Err(PolicyError::element(
                "(document)",
                "expected a JSON object with Version and Statement",
            ));
        };
        if let Some(unknown) = map
            .keys()
            .find(|k| !DOCUMENT_ELEMENTS.contains(&k.as_str()))
        {
            return Err(PolicyError::element(
                unknown.clone(),
                "unknown element (a document has Version, Id and Statement)",
            ));
        }
        let version = match map.get("Version") {
            None => None,
            Some(Value::String(v)) if v == "2012-10-17" => Some(Version::V2012_10_17),
            Some(Value::String(v)) if v == "2008-10-17" => Some(Version::V2008_10_17),
            Some(_) => {
                return Err(PolicyError::element(
                    "Version",
                    "expected \"2012-10-17\" or \"2008-10-17\"",
                ));
            }
        };
        let id = match map.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(PolicyError::element("Id", "expected a string")),
        };
        let variables = version == Some(Version::V2012_10_17);
        let (single, raw_statements): (bool, Vec<&Value>) = match map.get("Statement") {
            None => return Err(PolicyError::element("Statement", "missing")),
            Some(v @ Value::Object(_)) => (true, vec![v]),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(PolicyError::element(
                    "Statement",
                    "must hold at least one statement",
                ));
            }
            Some(Value::Array(items)) => (false, items.iter().collect()),
            Some(_) => {
                return Err(PolicyError::element(
                    "Statement",
                    "expected an object or an array of objects",
                ));
            }
        };
        let mut statements: Vec<Statement> = Vec::with_capacity(raw_statements.len());
        for (i, raw) in raw_statements.into_iter().enumerate() {
            let index = (!single).then_some(i);
            let statement = Statement::parse(raw, index, kind, variables)?;
            if let Some(sid) = statement.sid.as_deref().filter(|s| !s.is_empty())
                && let Some(first) = statements
                    .iter()
                    .position(|s| s.sid.as_deref() == Some(sid))
            {
                return Err(PolicyError::element(
                    format!("{}.Sid", label(index, Some(sid))),
                    format!("duplicate Sid (also Statement[{first}]); Sids must be unique"),
                ));
            }
            statements.push(statement);
        }
        Ok(PolicyDocument {
            kind,
            version,
            id,
            single,
            statements,
        })
    }

    /// The kind the document was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Version` element, if present.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The `Id` element, if present.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The document as compact JSON: the same elements and values as parsed (strings stay
    /// strings, arrays stay arrays), so parsing it again gives an equal document.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Display for PolicyDocument {
    /// Pretty-printed JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string_pretty(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for PolicyDocument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(v) = self.version {
            map.serialize_entry("Version", v.as_str())?;
        }
        if let Some(id) = &self.id {
            map.serialize_entry("Id", id)?;
        }
        match (&self.single, self.statements.first()) {
            (true, Some(only)) => map.serialize_entry("Statement", only)?,
            _ => map.serialize_entry("Statement", &self.statements)?,
        }
        map.end()
    }
}

/// How errors name a statement: `Statement[1]`, `Statement[1] (Sid "Read")`, or `Statement`
/// when the document has a single statement object.
fn label(index: Option<usize>, sid: Option<&str>) -> String {
    let mut out = match index {
        Some(i) => format!("Statement[{i}]"),
        None => "Statement".to_owned(),
    };
    if let Some(sid) = sid {
        out.push_str(&format!(" (Sid {})", quote(sid)));
    }
    out
}

impl Statement {
    fn parse(
        value: &Value,
        index: Option<usize>,
        kind: PolicyKind,
        variables: bool,
    ) -> Result<Statement, PolicyError> {
        let Value::Object(map) = value else {
            return Err(PolicyError::element(
                label(index, None),
                "expected an object",
            ));
        };
        let sid = match map.get("Sid") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(PolicyError::element(
                    format!("{}.Sid", label(index, None)),
                    "expected a string",
                ));
            }
        };
        let at = label(index, sid.as_deref());
        let path = |element: &str| format!("{at}.{element}");

        if let Some(unknown) = map
            .keys()
            .find(|k| !STATEMENT_ELEMENTS.contains(&k.as_str()))
        {
            // A frequent typo, worth a better message than "unknown".
            let hint = if unknown == "Conditions" {
                " (did you mean Condition?)"
            } else {
                ""
            };
            return Err(PolicyError::element(
                path(unknown),
                format!("unknown element{hint}"),
            ));
        }

        let effect = match map.get("Effect") {
            None => {
                return Err(PolicyError::element(
                    path("Effect"),
                    "missing (expected \"Allow\" or \"Deny\")",
                ));
            }
            Some(Value::String(s)) if s == "Allow" => Effect::Allow,
            Some(Value::String(s)) if s == "Deny" => Effect::Deny,
            Some(_) => {
                return Err(PolicyError::element(
                    path("Effect"),
                    "expected \"Allow\" or \"Deny\"",
                ));
            }
        };

        let principal = {
            let pair = pick(map, "Principal", "NotPrincipal", &at)?;
            match (kind, pair) {
                (PolicyKind::Identity, Some((name, _))) => {
                    return Err(PolicyError::element(
                        path(name),
                        format!("not allowed in {}", kind.describe()),
                    ));
                }
                (PolicyKind::Trust, Some(("NotPrincipal", _))) => {
                    return Err(PolicyError::element(
                        path("NotPrincipal"),
                        "not allowed in a trust policy; name the principals that may assume the role",
                    ));
                }
                (PolicyKind::Resource | PolicyKind::Trust, None) => {
                    let need = if kind == PolicyKind::Trust {
                        "Principal is required"
                    } else {
                        "Principal or NotPrincipal is required"
                    };
                    return Err(PolicyError::element(
                        at.clone(),
                        format!("{need} in {}", kind.describe()),
                    ));
                }
                (_, Some((name, v))) => Some(Negatable {
                    not: name == "NotPrincipal",
                    value: Principals::parse(v, &path(name))?,
                }),
                (PolicyKind::Identity, None) => None,
            }
        };

        let action = match pick(map, "Action", "NotAction", &at)? {
            Some((name, v)) => {
                let raw = one_or_many(v, &path(name))?;
                let patterns = raw
                    .iter()
                    .enumerate()
                    .map(|(i, a)| action_pattern(a, &raw.item_path(&path(name), i)))
                    .collect::<Result<Vec<_>, _>>()?;
                Element {
                    not: name == "NotAction",
                    raw,
                    patterns: patterns.into_boxed_slice(),
                }
            }
            None => {
                return Err(PolicyError::element(
                    at.clone(),
                    "Action or NotAction is required",
                ));
            }
        };

        let resource = match (kind, pick(map, "Resource", "NotResource", &at)?) {
            (PolicyKind::Trust, Some((name, _))) => {
                return Err(PolicyError::element(
                    path(name),
                    "not allowed in a trust policy (the resource is the role itself)",
                ));
            }
            (PolicyKind::Trust, None) => None,
            (_, None) => {
                return Err(PolicyError::element(
                    at.clone(),
                    format!("Resource or NotResource is required in {}", kind.describe()),
                ));
            }
            (_, Some((name, v))) => {
                let raw = one_or_many(v, &path(name))?;
                let patterns = raw
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        ArnPattern::new(r, arn::Mode::Resource, variables).map_err(|problem| {
                            PolicyError::element(raw.item_path(&path(name), i), problem)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some(Element {
                    not: name == "NotResource",
                    raw,
                    patterns: patterns.into_boxed_slice(),
                })
            }
        };

        let condition = match map.get("Condition") {
            None => None,
            Some(v) => Some(Conditions::parse(v, &path("Condition"), variables)?),
        };

        Ok(Statement {
            sid,
            effect,
            principal,
            action,
            resource,
            condition,
        })
    }

    /// The `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The `Effect`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether the statement applies to the request, and how the caller matched its
    /// principal. With `as_resource`, the statement is part of a resource-based policy and its
    /// `Principal`/`NotPrincipal` must match the caller (a statement without one matches
    /// nobody); otherwise principals are not consulted and the answer is [`Via::Name`].
    pub(crate) fn applies(&self, ctx: &RequestContext, as_resource: bool) -> Option<Via> {
        // Cheapest test first: most statements fail on the action.
        let action_hit = self
            .action
            .patterns
            .iter()
            .any(|p| p.matches(&ctx.action, ctx));
        if action_hit == self.action.not {
            return None;
        }
        if let Some(resource) = &self.resource {
            let hit = resource
                .patterns
                .iter()
                .any(|p| p.matches(&ctx.resource, ctx));
            if hit == resource.not {
                return None;
            }
        }
        let via = if as_resource {
            let principal = self.principal.as_ref()?;
            match (principal.value.matches(ctx), principal.not) {
                (Some(via), false) => via,
                (None, true) => Via::Name,
                _ => return None,
            }
        } else {
            Via::Name
        };
        if let Some(condition) = &self.condition
            && !condition.holds(ctx)
        {
            return None;
        }
        Some(via)
    }
}

impl Serialize for Statement {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(sid) = &self.sid {
            map.serialize_entry("Sid", sid)?;
        }
        map.serialize_entry("Effect", self.effect.as_str())?;
        if let Some(p) = &self.principal {
            let name = if p.not { "NotPrincipal" } else { "Principal" };
            map.serialize_entry(name, &p.value.to_value())?;
        }
        let name = if self.action.not {
            "NotAction"
        } else {
            "Action"
        };
        map.serialize_entry(name, &self.action.raw.to_value())?;
        if let Some(r) = &self.resource {
            let name = if r.not { "NotResource" } else { "Resource" };
            map.serialize_entry(name, &r.raw.to_value())?;
        }
        if let Some(c) = &self.condition {
            map.serialize_entry("Condition", &c.to_value())?;
        }
        map.end()
    }
}

/// The one of `a` and `b` present in the statement; both present is an error.
fn pick<'v>(
    map: &'v serde_json::Map<String, Value>,
    a: &'static str,
    b: &'static str,
    at: &str,
) -> Result<Option<(&'static str, &'v Value)>, PolicyError> {
    match (map.get(a), map.get(b)) {
        (Some(_), Some(_)) => Err(PolicyError::element(
            at,
            format!("has both {a} and {b}; exactly one is allowed"),
        )),
        (Some(v), None) => Ok(Some((a, v))),
        (None, Some(v)) => Ok(Some((b, v))),
        (None, None) => Ok(None),
    }
}

/// Compiles one `Action` value: `"*"`, or `service:name` with wildcards in the name only.
fn action_pattern(text: &str, path: &str) -> Result<Pattern, PolicyError> {
    let syntax = Syntax {
        wildcards: true,
        variables: false,
        fold: true,
    };
    if text == "*" {
        return Ok(Pattern::new(text, syntax));
    }
    let Some((service, name)) = text.split_once(':') else {
        return Err(PolicyError::element(
            path,
            format!(
                "{} is not of the form \"service:action\" (or \"*\")",
                quote(text)
            ),
        ));
    };
    if service.is_empty()
        || !service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(PolicyError::element(
            path,
            format!(
                "{}: the service prefix must be letters, digits and '-' (no wildcards)",
                quote(text)
            ),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '-' | '_'))
    {
        return Err(PolicyError::element(
            path,
            format!(
                "{}: the action name must be letters and digits, with '*' and '?' as wildcards",
                quote(text)
            ),
        ));
    }
    Ok(Pattern::new(text, syntax))
}
