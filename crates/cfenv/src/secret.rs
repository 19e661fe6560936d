//! [`Secret`]: a string whose value never shows up in `Debug` or `Display` output.

use std::fmt;

use serde::Deserialize;

/// What `Debug` and `Display` print instead of a secret's value.
const REDACTED: &str = "[redacted]";

/// A secret string (client secret, password, private key, connection URI).
///
/// `Debug` and `Display` print `[redacted]`, never the value, so a secret can sit in a struct
/// that derives `Debug` and in log fields without leaking.
/// There is deliberately no `Serialize` impl: writing a secret out must go through
/// [`Secret::expose`], which is easy to search for in review.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself. Call this only where the value is used (a header, a key parser).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_debug_and_display_but_exposes_on_request() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn deserializes_transparently() {
        let secret: Secret = serde_json::from_str("\"p@ss\"").expect("a JSON string");
        assert_eq!(secret, Secret::from("p@ss"));
        assert_eq!(Secret::from(String::from("x")), Secret::new("x"));
    }
}
