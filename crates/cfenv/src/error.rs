//! The crate's one error type, [`Error`], and the pieces of context it carries.
//!
//! Policy:
//!
//! - One enum for the whole crate, because callers branch on what went wrong: a missing
//!   variable ([`Error::NotSet`]) is handled differently from a binding that is not there
//!   ([`Error::NotBound`]) or one that is there but broken ([`Error::Field`]).
//! - Context is carried in typed fields, not baked into strings: the *origin* (the variable
//!   `VCAP_SERVICES`, or the path of the file named by `VCAP_SERVICES_FILE_PATH`), the service
//!   instance (name and label) and the field path (`credentials.url`).
//! - Messages say what is wrong ("missing", "expected a string", "not a valid URL: …").
//! - **No message ever contains a value read from the input**: no credential, no URL, no piece
//!   of the JSON text. Only names (variables, instance names, labels, field keys), positions and
//!   our own fixed wording appear. serde_json syntax errors are reduced to their fixed
//!   description plus line and column; URL errors use the `url` crate's fixed descriptions.
//!   The one deliberate exception is [`Error::InvalidPort`], which echoes the value of `PORT`
//!   or `CF_INSTANCE_PORT` — a port number is not a secret, and seeing it is how one fixes it.
//! - Errors are not logged here; the caller that handles them decides.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::ServiceKind;

/// Everything that can go wrong while reading the Cloud Foundry environment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// None of the variables that could hold the document is set (or all are empty).
    #[error("not set: none of {} has a value (outside Cloud Foundry, set {} to a JSON document)", join(variables), variables.last().copied().unwrap_or_default())]
    NotSet {
        /// The variables that were tried, in the order they were tried.
        variables: &'static [&'static str],
    },

    /// The file named by a `*_FILE_PATH` variable could not be read.
    #[error("cannot read {} (named by {variable})", path.display())]
    ReadFile {
        /// The variable that named the file.
        variable: &'static str,
        /// The file that could not be read.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        error: io::Error,
    },

    /// The document is not well-formed JSON.
    #[error("{origin}: malformed JSON at line {line}, column {column}: {reason}")]
    Json {
        /// The variable or file the document came from.
        origin: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// serde_json's fixed description of the syntax problem (never input text).
        reason: String,
    },

    /// The document is JSON, but a part outside any instance's credentials has the wrong shape.
    #[error("{origin}: {path}: {problem}")]
    Shape {
        /// The variable or file the document came from.
        origin: String,
        /// Where in the document, e.g. `xsuaa[0].tags[1]`.
        path: String,
        /// What is wrong there.
        problem: Problem,
    },

    /// A service instance was found, but one of its fields is missing or invalid.
    /// (Boxed to keep `Error` small for the crates that wrap it.)
    #[error("{0}")]
    Field(Box<FieldError>),

    /// No bound instance matches the query.
    #[error(
        "{origin}: no service instance {query} is bound; {}",
        bound_list(bound)
    )]
    NotBound {
        /// The variable or file the document came from.
        origin: String,
        /// What was looked for.
        query: Query,
        /// Every instance that is bound, so the reader can spot a typo.
        bound: Vec<InstanceRef>,
    },

    /// More than one bound instance matches the query.
    #[error("{origin}: {} service instances {query}: {}; pass the instance name to choose one", matches.len(), join(matches))]
    Ambiguous {
        /// The variable or file the document came from.
        origin: String,
        /// What was looked for.
        query: Query,
        /// The instances that match.
        matches: Vec<InstanceRef>,
    },

    /// A port variable does not hold a port number.
    #[error("{variable}: `{value}` is not a valid port number (expected 1-65535)")]
    InvalidPort {
        /// The variable, `PORT` or `CF_INSTANCE_PORT`.
        variable: &'static str,
        /// Its value as set (a port is not a secret).
        value: String,
    },
}

/// The details of [`Error::Field`]: where the bad field is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The variable or file the document came from.
    pub origin: String,
    /// The instance's `name`.
    pub instance: String,
    /// The instance's `label`.
    pub label: String,
    /// The field path inside the instance, e.g. `credentials.url`.
    pub path: String,
    /// What is wrong there.
    pub problem: Problem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: service instance `{}` (label `{}`): {}: {}",
            self.origin, self.instance, self.label, self.path, self.problem
        )
    }
}

/// What is wrong with one field. The wording never includes the field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The field is absent or `null`.
    Missing,
    /// The field is absent or `null` but another field requires it; the text says which.
    RequiredBy(String),
    /// The field is an empty string but a value is required.
    Empty,
    /// The field should be a string.
    ExpectedString,
    /// The field should be an object.
    ExpectedObject,
    /// The field should be an array.
    ExpectedArray,
    /// The field should be a non-negative integer.
    ExpectedInteger,
    /// The field should be a port number (1-65535), as a number or a string.
    InvalidPort,
    /// The field is not a usable URL; the text is a fixed description of why.
    InvalidUrl(String),
    /// The field is not a usable host name; the text is a fixed description of why.
    InvalidHostname(&'static str),
    /// The key occurs more than once in the same object.
    DuplicateKey,
    /// A credstore binding has none of the fields that identify its authentication type.
    NoAuthentication,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("missing"),
            Self::RequiredBy(by) => write!(f, "missing (required by {by})"),
            Self::Empty => f.write_str("empty"),
            Self::ExpectedString => f.write_str("expected a string"),
            Self::ExpectedObject => f.write_str("expected an object"),
            Self::ExpectedArray => f.write_str("expected an array"),
            Self::ExpectedInteger => f.write_str("expected a non-negative integer"),
            Self::InvalidPort => {
                f.write_str("expected a port number 1-65535 (as a number or a string)")
            }
            Self::InvalidUrl(why) => write!(f, "not a valid URL: {why}"),
            Self::InvalidHostname(why) => write!(f, "not a valid host name: {why}"),
            Self::DuplicateKey => f.write_str("duplicate key"),
            Self::NoAuthentication => f.write_str(
                "cannot tell the authentication type: expected `password` (basic), \
                 `certificate` and `key` (mtls, oauth:mtls) or `private_key` (oauth:key)",
            ),
        }
    }
}

/// What a lookup was looking for; shown in [`Error::NotBound`] and [`Error::Ambiguous`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// An instance with exactly this `name`.
    Name(String),
    /// An instance of this kind, by label and then by tag.
    Kind(ServiceKind),
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => write!(f, "named `{name}`"),
            Self::Kind(kind) => {
                write!(f, "with label `{}`", kind.label())?;
                let tags = kind.tags();
                for (i, tag) in tags.iter().enumerate() {
                    let sep = if i == 0 { " or tag" } else { " or" };
                    write!(f, "{sep} `{tag}`")?;
                }
                Ok(())
            }
        }
    }
}

/// A bound instance as named in an error: its `name` and `label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRef {
    /// The instance's `name`.
    pub name: String,
    /// The instance's `label`.
    pub label: String,
}

impl fmt::Display for InstanceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.name, self.label)
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn bound_list(bound: &[InstanceRef]) -> String {
    if bound.is_empty() {
        "no service instances are bound at all".to_owned()
    } else {
        format!("bound instances: {}", join(bound))
    }
}

impl Error {
    /// Builds the error for malformed JSON from a serde_json error, keeping only the position
    /// and serde_json's fixed description of a syntax problem.
    pub(crate) fn json(origin: &str, error: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let reason = match error.classify() {
            Category::Syntax | Category::Eof => {
                let text = error.to_string();
                match text.rsplit_once(" at line ") {
                    Some((reason, _)) => reason.to_owned(),
                    None => text,
                }
            }
            // Data errors can quote values; we never parse into types that raise them, but
            // if one ever appears, say nothing specific.
            Category::Data | Category::Io => "invalid JSON".to_owned(),
        };
        Self::Json {
            origin: origin.to_owned(),
            line: error.line(),
            column: error.column(),
            reason,
        }
    }

    /// The origin (variable or file) the error is about, when it is about a document.
    pub fn origin(&self) -> Option<&str> {
        match self {
            Self::Field(field) => Some(&field.origin),
            Self::Json { origin, .. }
            | Self::Shape { origin, .. }
            | Self::NotBound { origin, .. }
            | Self::Ambiguous { origin, .. } => Some(origin),
            Self::NotSet { .. } | Self::ReadFile { .. } | Self::InvalidPort { .. } => None,
        }
    }

    /// The problem with a field, for [`Error::Field`] and [`Error::Shape`].
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Field(field) => Some(&field.problem),
            Self::Shape { problem, .. } => Some(problem),
            _ => None,
        }
    }
}
