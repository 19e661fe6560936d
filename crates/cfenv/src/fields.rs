//! Typed reads from one JSON object, with the context errors need (crate-private).
//!
//! Every reader returns an [`Error`] naming the origin, the instance (when reading inside one)
//! and the full field path — and never the value it read. Conventions shared by all readers:
//! `null` counts as absent, and an empty string counts as absent for optional fields and as
//! [`Problem::Empty`] for required ones.

use serde_json::{Map, Value};
use url::Url;

use crate::{Error, FieldError, Problem, Secret};

/// Where an object sits, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ctx<'a> {
    /// Outside any instance's credentials: errors are [`Error::Shape`].
    Document { origin: &'a str },
    /// Inside an instance: errors are [`Error::Field`].
    Instance {
        origin: &'a str,
        instance: &'a str,
        label: &'a str,
    },
}

/// A JSON object plus its place in the document.
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    ctx: Ctx<'a>,
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// `path` is the object's own path (`xsuaa[0]`, `credentials`, or empty for the root).
    pub(crate) fn new(ctx: Ctx<'a>, path: impl Into<String>, map: &'a Map<String, Value>) -> Self {
        Self {
            ctx,
            path: path.into(),
            map,
        }
    }

    /// The error for `field` of this object.
    pub(crate) fn error(&self, field: &str, problem: Problem) -> Error {
        let path = self.path_of(field);
        error_at(self.ctx, path, problem)
    }

    /// The error for this object itself.
    pub(crate) fn error_here(&self, problem: Problem) -> Error {
        error_at(self.ctx, self.path.clone(), problem)
    }

    fn path_of(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_owned()
        } else if field.starts_with('[') {
            format!("{}{field}", self.path)
        } else {
            format!("{}.{field}", self.path)
        }
    }

    /// The object itself.
    pub(crate) fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|value| !value.is_null())
    }

    /// Whether `field` holds something other than `null` or `""`.
    pub(crate) fn has(&self, field: &str) -> bool {
        match self.get(field) {
            None => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        }
    }

    pub(crate) fn opt_str(&self, field: &str) -> Result<Option<&'a str>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.error(field, Problem::ExpectedString)),
        }
    }

    pub(crate) fn str(&self, field: &str) -> Result<&'a str, Error> {
        match self.get(field) {
            None => Err(self.error(field, Problem::Missing)),
            Some(Value::String(s)) if s.is_empty() => Err(self.error(field, Problem::Empty)),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.error(field, Problem::ExpectedString)),
        }
    }

    /// Like [`Obj::str`], but a missing field says which other field requires it.
    pub(crate) fn str_required_by(&self, field: &str, by: &str) -> Result<&'a str, Error> {
        self.str(field).map_err(|error| match error.problem() {
            Some(Problem::Missing) => self.error(field, Problem::RequiredBy(by.to_owned())),
            _ => error,
        })
    }

    pub(crate) fn string(&self, field: &str) -> Result<String, Error> {
        self.str(field).map(str::to_owned)
    }

    pub(crate) fn opt_string(&self, field: &str) -> Result<Option<String>, Error> {
        Ok(self.opt_str(field)?.map(str::to_owned))
    }

    pub(crate) fn secret(&self, field: &str) -> Result<Secret, Error> {
        self.str(field).map(Secret::new)
    }

    pub(crate) fn secret_required_by(&self, field: &str, by: &str) -> Result<Secret, Error> {
        self.str_required_by(field, by).map(Secret::new)
    }

    pub(crate) fn opt_secret(&self, field: &str) -> Result<Option<Secret>, Error> {
        Ok(self.opt_str(field)?.map(Secret::new))
    }

    pub(crate) fn url(&self, field: &str) -> Result<Url, Error> {
        parse_url(self.str(field)?).map_err(|problem| self.error(field, problem))
    }

    pub(crate) fn url_required_by(&self, field: &str, by: &str) -> Result<Url, Error> {
        parse_url(self.str_required_by(field, by)?).map_err(|problem| self.error(field, problem))
    }

    pub(crate) fn opt_url(&self, field: &str) -> Result<Option<Url>, Error> {
        match self.opt_str(field)? {
            None => Ok(None),
            Some(s) => parse_url(s)
                .map(Some)
                .map_err(|problem| self.error(field, problem)),
        }
    }

    /// A port number given as a JSON number or a decimal string (PostgreSQL bindings use a
    /// string).
    pub(crate) fn port(&self, field: &str) -> Result<u16, Error> {
        let number = match self.get(field) {
            None => return Err(self.error(field, Problem::Missing)),
            Some(Value::String(s)) if s.is_empty() => {
                return Err(self.error(field, Problem::Empty));
            }
            Some(Value::String(s)) => s.parse::<u64>().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            Some(_) => None,
        };
        number
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&port| port != 0)
            .ok_or_else(|| self.error(field, Problem::InvalidPort))
    }

    pub(crate) fn opt_u64(&self, field: &str) -> Result<Option<u64>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.error(field, Problem::ExpectedInteger)),
            Some(_) => Err(self.error(field, Problem::ExpectedInteger)),
        }
    }

    /// An array of strings; absent or `null` gives an empty list.
    pub(crate) fn string_list(&self, field: &str) -> Result<Vec<String>, Error> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.error(&format!("{field}[{i}]"), Problem::ExpectedString)),
                })
                .collect(),
            Some(_) => Err(self.error(field, Problem::ExpectedArray)),
        }
    }

    /// A nested object, or `None` when absent or `null`.
    pub(crate) fn opt_object(&self, field: &str) -> Result<Option<Obj<'a>>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj::new(self.ctx, self.path_of(field), map))),
            Some(_) => Err(self.error(field, Problem::ExpectedObject)),
        }
    }
}

/// The error for `path` in `ctx`.
pub(crate) fn error_at(ctx: Ctx<'_>, path: String, problem: Problem) -> Error {
    match ctx {
        Ctx::Document { origin } => Error::Shape {
            origin: origin.to_owned(),
            path,
            problem,
        },
        Ctx::Instance {
            origin,
            instance,
            label,
        } => Error::Field(Box::new(FieldError {
            origin: origin.to_owned(),
            instance: instance.to_owned(),
            label: label.to_owned(),
            path,
            problem,
        })),
    }
}

/// Parses a service URL: absolute, `http` or `https`, and without user info (a URL with a
/// password in it would leak through every `Debug` of the binding).
fn parse_url(text: &str) -> Result<Url, Problem> {
    let url = Url::parse(text).map_err(|e| Problem::InvalidUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Problem::InvalidUrl(
            "expected an http or https URL".to_owned(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Problem::InvalidUrl(
            "must not contain a user name or password".to_owned(),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj_error(json: &str, read: impl Fn(&Obj<'_>) -> Result<(), Error>) -> String {
        let value: Value = serde_json::from_str(json).expect("test JSON");
        let map = value.as_object().expect("test object");
        let ctx = Ctx::Instance {
            origin: "VCAP_SERVICES",
            instance: "svc",
            label: "lbl",
        };
        match read(&Obj::new(ctx, "credentials", map)) {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn readers_report_path_and_problem() {
        let prefix = "VCAP_SERVICES: service instance `svc` (label `lbl`): credentials.";
        let cases: &[(&str, &str)] = &[
            (r#"{}"#, "a: missing"),
            (r#"{"a": null}"#, "a: missing"),
            (r#"{"a": ""}"#, "a: empty"),
            (r#"{"a": 1}"#, "a: expected a string"),
            (r#"{"a": "x"}"#, "ok"),
        ];
        for (json, want) in cases {
            let got = obj_error(json, |o| o.str("a").map(drop));
            let want = if *want == "ok" {
                "ok".to_owned()
            } else {
                format!("{prefix}{want}")
            };
            assert_eq!(got, want, "input {json}");
        }
    }

    #[test]
    fn urls_must_be_absolute_http_without_userinfo() {
        let cases: &[(&str, &str)] = &[
            ("https://a.example/x", "ok"),
            ("http://localhost:8080", "ok"),
            ("/relative", "not a valid URL: relative URL without a base"),
            (
                "ftp://a.example",
                "not a valid URL: expected an http or https URL",
            ),
            (
                "https://u:p@a.example",
                "not a valid URL: must not contain a user name or password",
            ),
        ];
        for (url, want) in cases {
            let json = serde_json::json!({ "u": url }).to_string();
            let got = obj_error(&json, |o| o.url("u").map(drop));
            assert!(got.ends_with(want), "{url}: {got}");
        }
    }

    #[test]
    fn ports_accept_numbers_and_strings() {
        let cases: &[(&str, &str)] = &[
            (r#"{"p": 5432}"#, "ok"),
            (r#"{"p": "5432"}"#, "ok"),
            (r#"{"p": "0"}"#, "expected a port number"),
            (r#"{"p": 70000}"#, "expected a port number"),
            (r#"{"p": "x"}"#, "expected a port number"),
            (r#"{"p": true}"#, "expected a port number"),
            (r#"{"p": -1}"#, "expected a port number"),
        ];
        for (json, want) in cases {
            let got = obj_error(json, |o| o.port("p").map(drop));
            assert!(got.contains(want), "{json}: {got}");
        }
    }
}
