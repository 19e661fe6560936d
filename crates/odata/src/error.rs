//! The crate's one error: an OData error response in waiting.
//!
//! Policy:
//! - Every failure is a client error with the HTTP status it should answer with (400 for a
//!   malformed request, 404 for an unknown resource, 406 for an unsupported format), except
//!   [`Error::internal`], which is a 500 for a model the app built inconsistently.
//! - `code` is the status as a string, as SAP CAP sends it (`"400"`, `"404"`): clients (UI5)
//!   show `message`, and `target` names the query option or property at fault.
//! - A message never quotes more than [`MAX_QUOTED`] characters of client input: every quote goes
//!   through [`quote`].
//! - The body is `{"error":{"code":…,"message":…,"target":…,"details":[…]}}`; `target` and
//!   `details` are left out when absent or empty, as CAP does.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// The most characters of client input an error message quotes.
pub const MAX_QUOTED: usize = 100;

/// An OData error: the HTTP status and the body's `error` object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct Error {
    /// The HTTP status code to answer with.
    pub status: u16,
    /// The OData error code (the status as a string, like CAP).
    pub code: String,
    /// A message for humans.
    pub message: String,
    /// The query option, property or key the error is about.
    pub target: Option<String>,
    /// Further errors, for example one per offending option.
    pub details: Vec<Detail>,
}

/// One entry of an OData error's `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The OData error code.
    pub code: String,
    /// A message for humans.
    pub message: String,
    /// What the detail is about.
    pub target: Option<String>,
}

impl Error {
    /// An error with the given status; the code is the status as a string.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            code: status.to_string(),
            message: message.into(),
            target: None,
            details: Vec::new(),
        }
    }

    /// 400 Bad Request: a malformed path, key or query option.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 404 Not Found: an unknown entity set, function, property or entity.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 406 Not Acceptable: a `$format` or `Accept` the service cannot produce.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, message)
    }

    /// 500: the app's model is inconsistent (never caused by a request alone).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// The same error with a `target` (a query option or property name, quoted safely).
    #[must_use]
    pub fn with_target(mut self, target: &str) -> Self {
        self.target = Some(truncate(target));
        self
    }

    /// The same error with a different OData code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = code.into();
        self
    }

    /// The same error with one more detail.
    #[must_use]
    pub fn with_detail(mut self, detail: Detail) -> Self {
        self.details.push(detail);
        self
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The OData error body as JSON text.
    pub fn to_json(&self) -> String {
        crate::json::to_string(self)
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Inner<'a>(&'a Error);
        impl Serialize for Inner<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let e = self.0;
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("code", &e.code)?;
                map.serialize_entry("message", &e.message)?;
                if let Some(target) = &e.target {
                    map.serialize_entry("target", target)?;
                }
                if !e.details.is_empty() {
                    map.serialize_entry("details", &e.details)?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("error", &Inner(self))?;
        map.end()
    }
}

impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("code", &self.code)?;
        map.serialize_entry("message", &self.message)?;
        if let Some(target) = &self.target {
            map.serialize_entry("target", target)?;
        }
        map.end()
    }
}

/// Client input for a message: in single quotes, cut to [`MAX_QUOTED`] characters (`…` marks a
/// cut), control characters replaced.
pub fn quote(input: &str) -> String {
    format!("'{}'", truncate(input))
}

fn truncate(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(MAX_QUOTED)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if input.chars().nth(MAX_QUOTED).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_leaves_out_absent_target_and_details() {
        let e = Error::not_found("Entity set 'x' not found");
        assert_eq!(
            e.to_json(),
            r#"{"error":{"code":"404","message":"Entity set 'x' not found"}}"#
        );
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn quote_truncates_long_input_and_control_characters() {
        let long = "a".repeat(10_000);
        let q = quote(&long);
        assert_eq!(q.chars().count(), MAX_QUOTED + 3);
        assert_eq!(quote("a\nb"), "'a\u{fffd}b'");
        let e = Error::bad_request("x").with_target(&long);
        assert!(
            e.target
                .is_some_and(|t| t.chars().count() == MAX_QUOTED + 1)
        );
    }
}
