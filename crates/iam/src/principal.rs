//! A statement's `Principal` / `NotPrincipal`: who a resource-based policy (a bucket policy,
//! a role's trust policy) speaks about, and whether a request's caller is one of them.
//!
//! Forms (docs/protocols.md §Policy grammar):
//!
//! - `"*"`: everyone.
//! - `{"AWS": …}` with a string or an array of: `"*"` (every AWS principal), a 12-digit account
//!   id or `arn:aws:iam::ACCT:root` (the whole account), or the ARN of a user, role or role
//!   session. No other wildcards: IAM does not allow them in principals.
//! - `{"Service": "lambda.amazonaws.com"}`, `{"Federated": …}`, `{"CanonicalUser": …}`:
//!   compared with the caller's `principal_arn` (a service calls with its service principal
//!   name there).
//!
//! A role ARN also matches every session of that role
//! (`arn:aws:sts::ACCT:assumed-role/NAME/SESSION`; the role's path is not part of the session
//! ARN), as in IAM.
//!
//! How the caller matched matters ([`Via`]): naming the caller (or `*`) grants directly, while
//! naming the caller's account delegates to the account, whose identity policies must then
//! allow too (docs/protocols.md §AssumeRole authorization).

use serde_json::Value;

use crate::document::{OneOrMany, one_or_many};
use crate::error::{PolicyError, quote};
use crate::eval::RequestContext;

/// How a principal element matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The element names the caller (its ARN, its role, a service name) or everyone.
    Name,
    /// The element names the caller's account only.
    Account,
}

/// A parsed `Principal` or `NotPrincipal` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principals {
    raw: Raw,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Raw {
    Star,
    /// Principal type → values, in the document's order.
    Map(Vec<(String, OneOrMany)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `"*"`.
    Anyone,
    /// `{"AWS": "*"}`.
    AnyAws,
    /// An account id or its `:root` ARN.
    Account(String),
    /// A role ARN; also matches the role's sessions, whose ARNs start with `session_prefix`.
    Role { arn: String, session_prefix: String },
    /// Any other ARN, compared exactly.
    Arn(String),
    /// A service principal name, compared case-insensitively.
    Service(String),
    /// A federated or canonical-user principal, compared exactly.
    Other(String),
}

/// The principal types we accept.
const TYPES: [&str; 4] = ["AWS", "Service", "Federated", "CanonicalUser"];

impl Principals {
    /// Parses the value of the element at `path`.
    pub(crate) fn parse(value: &Value, path: &str) -> Result<Principals, PolicyError> {
        match value {
            Value::String(s) if s == "*" => Ok(Principals {
                raw: Raw::Star,
                entries: vec![Entry::Anyone],
            }),
            Value::Object(map) => {
                if map.is_empty() {
                    return Err(PolicyError::element(
                        path,
                        "must name at least one principal type (\"AWS\", \"Service\", …)",
                    ));
                }
                let mut raw = Vec::with_capacity(map.len());
                let mut entries = Vec::new();
                for (kind, values) in map {
                    let kind_path = format!("{path}.{kind}");
                    if !TYPES.contains(&kind.as_str()) {
                        return Err(PolicyError::element(
                            path,
                            format!(
                                "unknown principal type {} (expected \"AWS\", \"Service\", \"Federated\" or \"CanonicalUser\")",
                                quote(kind)
                            ),
                        ));
                    }
                    let values = one_or_many(values, &kind_path)?;
                    for (i, v) in values.iter().enumerate() {
                        let item_path = values.item_path(&kind_path, i);
                        entries.push(entry(kind, v, &item_path)?);
                    }
                    raw.push((kind.clone(), values));
                }
                Ok(Principals {
                    raw: Raw::Map(raw),
                    entries,
                })
            }
            _ => Err(PolicyError::element(
                path,
                "expected \"*\" or an object such as {\"AWS\": \"arn:aws:iam::123456789012:root\"}",
            )),
        }
    }

    /// How the caller of `ctx` matches any entry, the strongest way first.
    pub(crate) fn matches(&self, ctx: &RequestContext) -> Option<Via> {
        let mut best = None;
        for e in &self.entries {
            match e.matches(ctx) {
                Some(Via::Name) => return Some(Via::Name),
                Some(Via::Account) => best = Some(Via::Account),
                None => {}
            }
        }
        best
    }

    /// The element as JSON, as it was written.
    pub(crate) fn to_value(&self) -> Value {
        match &self.raw {
            Raw::Star => Value::String("*".to_owned()),
            Raw::Map(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }
}

impl Entry {
    fn matches(&self, ctx: &RequestContext) -> Option<Via> {
        let caller = ctx.principal_arn.as_str();
        let hit = match self {
            Entry::Anyone => true,
            Entry::AnyAws => caller.starts_with("arn:"),
            Entry::Account(account) => {
                return (!account.is_empty() && *account == ctx.principal_account)
                    .then_some(Via::Account);
            }
            Entry::Role {
                arn,
                session_prefix,
            } => {
                caller == arn
                    || caller
                        .strip_prefix(session_prefix.as_str())
                        .is_some_and(|session| !session.is_empty() && !session.contains('/'))
            }
            Entry::Arn(arn) => caller == arn,
            Entry::Service(name) => caller.eq_ignore_ascii_case(name),
            Entry::Other(name) => caller == name,
        };
        hit.then_some(Via::Name)
    }
}

/// One value of the principal type `kind`.
fn entry(kind: &str, value: &str, path: &str) -> Result<Entry, PolicyError> {
    if value.is_empty() {
        return Err(PolicyError::element(path, "must not be empty"));
    }
    match kind {
        "AWS" => aws_entry(value, path),
        "Service" => Ok(Entry::Service(value.to_owned())),
        _ => Ok(Entry::Other(value.to_owned())),
    }
}

fn aws_entry(value: &str, path: &str) -> Result<Entry, PolicyError> {
    if value == "*" {
        return Ok(Entry::AnyAws);
    }
    if is_account_id(value) {
        return Ok(Entry::Account(value.to_owned()));
    }
    let invalid = || {
        PolicyError::element(
            path,
            format!(
                "{} is not \"*\", a 12-digit account id or the ARN of an account root, user or role",
                quote(value)
            ),
        )
    };
    let mut parts = value
        .strip_prefix("arn:")
        .ok_or_else(invalid)?
        .splitn(5, ':');
    let (Some(partition), Some(service), Some(_region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    if !matches!(service, "iam" | "sts") || !is_account_id(account) || resource.is_empty() {
        return Err(invalid());
    }
    if value.contains(['*', '?']) {
        return Err(PolicyError::element(
            path,
            format!(
                "{}: a principal ARN cannot hold wildcards (use \"*\" alone, or name the account)",
                quote(value)
            ),
        ));
    }
    if service == "iam" && resource == "root" {
        return Ok(Entry::Account(account.to_owned()));
    }
    if service == "iam"
        && let Some(path_and_name) = resource.strip_prefix("role/")
    {
        let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
        return Ok(Entry::Role {
            arn: value.to_owned(),
            session_prefix: format!("arn:{partition}:sts::{account}:assumed-role/{name}/"),
        });
    }
    Ok(Entry::Arn(value.to_owned()))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}
