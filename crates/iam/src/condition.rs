//! A statement's `Condition` block: `{Operator: {Key: value or [values]}}`, compiled when the
//! policy is loaded and evaluated against a request's condition keys.
//!
//! Semantics (docs/protocols.md §Policy grammar):
//!
//! - Operators of a block AND; keys of one operator AND; the policy values of one key OR.
//! - Key names compare case-insensitively; values as the operator says.
//! - Operators: `String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike}`
//!   (`Like`: `*` and `?`), `Numeric…` and `Date…` (`Equals`, `NotEquals`, `LessThan[Equals]`,
//!   `GreaterThan[Equals]`; dates as ISO-8601 or epoch seconds), `Bool`, `BinaryEquals`
//!   (base64 text compared exactly), `IpAddress`/`NotIpAddress` (CIDR, IPv4 and IPv6),
//!   `Arn{Equals,Like,NotEquals,NotLike}` (both `Equals` and `Like` take wildcards, as in IAM),
//!   `Null`; the suffix `IfExists` and the prefixes `ForAnyValue:` / `ForAllValues:`. Operator
//!   names are case-sensitive. An unknown operator, or a policy value the operator cannot read
//!   (a number that is not one, a CIDR that is not one), is an error at load time.
//!
//! Missing keys — **our reading of a nuance IAM's documentation leaves open**: when the
//! request has no value for the key, a positive operator (`StringEquals`, `IpAddress`, …) is
//! false and a negated one (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …) is true;
//! `…IfExists` makes either true; `ForAnyValue:` is false and `ForAllValues:` true (they
//! quantify over an empty set). `Null` is true for `"true"` exactly when the key is missing.
//!
//! A request may give a key several values. A plain operator is then true if any request value
//! matches a policy value; its negation is true if none does. `ForAnyValue:` asks that some
//! request value satisfy the operator (negated operators included), `ForAllValues:` that every
//! one does. A request value the operator cannot read (`"abc"` for `NumericLessThan`) satisfies
//! neither the operator nor its negation.
//!
//! Policy variables (`${aws:username}`) are expanded in the values of `String…` and `Arn…`
//! operators of `2012-10-17` documents; see [`crate::pattern`].

use serde_json::{Map, Number, Value};

use crate::arn::{self, ArnPattern};
use crate::error::{PolicyError, quote};
use crate::eval::RequestContext;
use crate::pattern::{Pattern, Syntax};
use crate::values::{Cidr, Instant, parse_instant, parse_ip};

/// A parsed `Condition` block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Conditions {
    ops: Vec<Operator>,
}

/// One operator of the block with its keys.
#[derive(Debug, Clone, PartialEq)]
struct Operator {
    /// As written, e.g. `ForAnyValue:StringLikeIfExists`.
    name: String,
    set: Set,
    family: Family,
    negated: bool,
    if_exists: bool,
    keys: Vec<KeyTest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    /// No prefix.
    Single,
    /// `ForAnyValue:`.
    Any,
    /// `ForAllValues:`.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String { fold: bool, like: bool },
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: &T, policy: &T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// One key of an operator: its name, its values as written, and its values compiled.
#[derive(Debug, Clone, PartialEq)]
struct KeyTest {
    key: String,
    raw: Raw,
    values: Values,
}

/// The values as written, so the document serializes back as it came.
#[derive(Debug, Clone, PartialEq)]
struct Raw {
    array: bool,
    items: Vec<Scalar>,
}

#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Str(String),
    Num(Number),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Str(s) => s.clone(),
            Scalar::Num(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Scalar::Str(s) => Value::String(s.clone()),
            Scalar::Num(n) => Value::Number(n.clone()),
            Scalar::Bool(b) => Value::Bool(*b),
        }
    }
}

/// The values compiled for the operator's family.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Strings(Vec<Pattern>),
    Numbers(Vec<f64>),
    Dates(Vec<Instant>),
    /// `Bool` and `Null`.
    Bools(Vec<bool>),
    Binary(Vec<String>),
    Ips(Vec<Cidr>),
    Arns(Vec<ArnPattern>),
}

/// The family of a base operator name (no prefix, no `IfExists`), and whether it is negated.
fn base_operator(name: &str) -> Option<(Family, bool)> {
    use Cmp::{Eq, Ge, Gt, Le, Lt};
    let string = |fold, like| Family::String { fold, like };
    Some(match name {
        "StringEquals" => (string(false, false), false),
        "StringNotEquals" => (string(false, false), true),
        "StringEqualsIgnoreCase" => (string(true, false), false),
        "StringNotEqualsIgnoreCase" => (string(true, false), true),
        "StringLike" => (string(false, true), false),
        "StringNotLike" => (string(false, true), true),
        "NumericEquals" => (Family::Numeric(Eq), false),
        "NumericNotEquals" => (Family::Numeric(Eq), true),
        "NumericLessThan" => (Family::Numeric(Lt), false),
        "NumericLessThanEquals" => (Family::Numeric(Le), false),
        "NumericGreaterThan" => (Family::Numeric(Gt), false),
        "NumericGreaterThanEquals" => (Family::Numeric(Ge), false),
        "DateEquals" => (Family::Date(Eq), false),
        "DateNotEquals" => (Family::Date(Eq), true),
        "DateLessThan" => (Family::Date(Lt), false),
        "DateLessThanEquals" => (Family::Date(Le), false),
        "DateGreaterThan" => (Family::Date(Gt), false),
        "DateGreaterThanEquals" => (Family::Date(Ge), false),
        "Bool" => (Family::Bool, false),
        "BinaryEquals" => (Family::Binary, false),
        "IpAddress" => (Family::Ip, false),
        "NotIpAddress" => (Family::Ip, true),
        "ArnEquals" | "ArnLike" => (Family::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
        "Null" => (Family::Null, false),
        _ => return None,
    })
}

impl Conditions {
    /// Parses the `Condition` value at `path`; `variables` says whether policy variables are
    /// expanded (version `2012-10-17`).
    pub(crate) fn parse(
        value: &Value,
        path: &str,
        variables: bool,
    ) -> Result<Conditions, PolicyError> {
        let Value::Object(map) = value else {
            return Err(PolicyError::element(
                path,
                "expected an object such as {\"StringEquals\": {\"sts:ExternalId\": \"…\"}}",
            ));
        };
        let mut ops = Vec::with_capacity(map.len());
        for (name, keys) in map {
            ops.push(Operator::parse(name, keys, path, variables)?);
        }
        Ok(Conditions { ops })
    }

    /// Whether every operator holds for the request.
    pub(crate) fn holds(&self, ctx: &RequestContext) -> bool {
        self.ops.iter().all(|op| op.holds(ctx))
    }

    /// The block as JSON, as it was written.
    pub(crate) fn to_value(&self) -> Value {
        let mut map = Map::new();
        for op in &self.ops {
            let mut keys = Map::new();
            for k in &op.keys {
                let value = if k.raw.array {
                    Value::Array(k.raw.items.iter().map(Scalar::to_value).collect())
                } else {
                    k.raw.items.first().map_or(Value::Null, Scalar::to_value)
                };
                keys.insert(k.key.clone(), value);
            }
            map.insert(op.name.clone(), Value::Object(keys));
        }
        Value::Object(map)
    }
}

impl Operator {
    fn parse(
        name: &str,
        keys: &Value,
        block_path: &str,
        variables: bool,
    ) -> Result<Operator, PolicyError> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Set::Any, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Set::All, r)
        } else {
            (Set::Single, name)
        };
        let (family, negated, if_exists) = match base_operator(rest) {
            Some((f, n)) => (f, n, false),
            None => match rest.strip_suffix("IfExists").and_then(base_operator) {
                Some((f, n)) => (f, n, true),
                None => {
                    return Err(PolicyError::element(
                        block_path,
                        format!("unknown condition operator {}", quote(name)),
                    ));
                }
            },
        };
        let path = format!("{block_path}.{name}");
        if family == Family::Null && (set != Set::Single || if_exists) {
            return Err(PolicyError::element(
                &path,
                "Null cannot take ForAnyValue:, ForAllValues: or IfExists",
            ));
        }
        let Value::Object(map) = keys else {
            return Err(PolicyError::element(
                &path,
                "expected an object of condition keys and values",
            ));
        };
        if map.is_empty() {
            return Err(PolicyError::element(
                &path,
                "must name at least one condition key",
            ));
        }
        let mut tests = Vec::with_capacity(map.len());
        for (key, value) in map {
            let key_path = format!("{path}.{key}");
            if key.is_empty() {
                return Err(PolicyError::element(&path, "a condition key is empty"));
            }
            let raw = raw_values(value, &key_path)?;
            let values = compile(family, &raw, &key_path, variables)?;
            tests.push(KeyTest {
                key: key.clone(),
                raw,
                values,
            });
        }
        Ok(Operator {
            name: name.to_owned(),
            set,
            family,
            negated,
            if_exists,
            keys: tests,
        })
    }

    fn holds(&self, ctx: &RequestContext) -> bool {
        self.keys.iter().all(|k| self.key_holds(k, ctx))
    }

    fn key_holds(&self, test: &KeyTest, ctx: &RequestContext) -> bool {
        let request = ctx.key_values(&test.key);
        if self.family == Family::Null {
            let missing = request.is_none();
            return match &test.values {
                Values::Bools(wants) => wants.contains(&missing),
                _ => false,
            };
        }
        let Some(request) = request else {
            return match self.set {
                Set::Single => self.if_exists || self.negated,
                Set::Any => self.if_exists,
                Set::All => true,
            };
        };
        // For each request value: Some(true) matches a policy value, Some(false) matches none,
        // None cannot be compared (and so satisfies neither polarity).
        let mut verdicts = request
            .iter()
            .map(|v| test.values.test(self.family, v, ctx));
        let wanted = !self.negated;
        match (self.set, self.negated) {
            (Set::Single | Set::Any, false) | (Set::Any, true) => {
                verdicts.any(|v| v == Some(wanted))
            }
            (Set::Single, true) | (Set::All, _) => verdicts.all(|v| v == Some(wanted)),
        }
    }
}

impl Values {
    /// Whether the request value `v` matches any policy value (`None`: not comparable).
    fn test(&self, family: Family, v: &str, ctx: &RequestContext) -> Option<bool> {
        Some(match self {
            Values::Strings(patterns) => patterns.iter().any(|p| p.matches(v, ctx)),
            Values::Arns(patterns) => patterns.iter().any(|p| p.matches(v, ctx)),
            Values::Binary(items) => items.iter().any(|b| b == v),
            Values::Numbers(numbers) => {
                let Family::Numeric(cmp) = family else {
                    return None;
                };
                let n = parse_number(v)?;
                numbers.iter().any(|p| cmp.holds(&n, p))
            }
            Values::Dates(dates) => {
                let Family::Date(cmp) = family else {
                    return None;
                };
                let d = parse_instant(v)?;
                dates.iter().any(|p| cmp.holds(&d, p))
            }
            Values::Bools(bools) => {
                let b = parse_bool(v)?;
                bools.contains(&b)
            }
            Values::Ips(blocks) => {
                let ip = parse_ip(v)?;
                blocks.iter().any(|c| c.contains(ip))
            }
        })
    }
}

/// Reads the value of one condition key: a scalar or a non-empty array of scalars.
fn raw_values(value: &Value, path: &str) -> Result<Raw, PolicyError> {
    let scalar = |v: &Value, path: &str| match v {
        Value::String(s) => Ok(Scalar::Str(s.clone())),
        Value::Number(n) => Ok(Scalar::Num(n.clone())),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        _ => Err(PolicyError::element(
            path,
            "expected a string, a number or a boolean",
        )),
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(PolicyError::element(path, "must not be an empty array"));
            }
            let items = items
                .iter()
                .enumerate()
                .map(|(i, v)| scalar(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?;
            Ok(Raw { array: true, items })
        }
        Value::Null | Value::Object(_) => Err(PolicyError::element(
            path,
            "expected a string, a number, a boolean or an array of them",
        )),
        v => Ok(Raw {
            array: false,
            items: vec![scalar(v, path)?],
        }),
    }
}

/// Compiles the values of one key for `family`.
fn compile(family: Family, raw: &Raw, path: &str, variables: bool) -> Result<Values, PolicyError> {
    let item_path = |i: usize| {
        if raw.array {
            format!("{path}[{i}]")
        } else {
            path.to_owned()
        }
    };
    let each = |f: &dyn Fn(&str) -> Option<()>, what: &str| -> Result<(), PolicyError> {
        for (i, item) in raw.items.iter().enumerate() {
            let text = item.text();
            if f(&text).is_none() {
                return Err(PolicyError::element(
                    item_path(i),
                    format!("{} is not {what}", quote(&text)),
                ));
            }
        }
        Ok(())
    };
    let texts = || raw.items.iter().map(Scalar::text);
    Ok(match family {
        Family::String { fold, like } => {
            let syntax = Syntax {
                wildcards: like,
                variables,
                fold,
            };
            Values::Strings(texts().map(|t| Pattern::new(&t, syntax)).collect())
        }
        Family::Numeric(_) => {
            each(&|t| parse_number(t).map(drop), "a number")?;
            Values::Numbers(texts().filter_map(|t| parse_number(&t)).collect())
        }
        Family::Date(_) => {
            each(
                &|t| parse_instant(t).map(drop),
                "a date (ISO-8601 such as 2025-01-31T12:00:00Z, or epoch seconds)",
            )?;
            Values::Dates(texts().filter_map(|t| parse_instant(&t)).collect())
        }
        Family::Bool | Family::Null => {
            each(&|t| parse_bool(t).map(drop), "\"true\" or \"false\"")?;
            Values::Bools(texts().filter_map(|t| parse_bool(&t)).collect())
        }
        Family::Binary => Values::Binary(texts().collect()),
        Family::Ip => {
            each(
                &|t| Cidr::parse(t).map(drop),
                "an IP address or CIDR block (203.0.113.0/24, 2001:db8::/32)",
            )?;
            Values::Ips(texts().filter_map(|t| Cidr::parse(&t)).collect())
        }
        Family::Arn => {
            let mut arns = Vec::with_capacity(raw.items.len());
            for (i, t) in texts().enumerate() {
                let p = ArnPattern::new(&t, arn::Mode::Condition, variables)
                    .map_err(|problem| PolicyError::element(item_path(i), problem))?;
                arns.push(p);
            }
            Values::Arns(arns)
        }
    })
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust's float parser also takes "inf" and "NaN"; IAM's numbers are decimal only.
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
