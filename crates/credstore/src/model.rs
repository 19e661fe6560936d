//! Credential shapes: what the Credential Store stores and returns, the input limits it
//! enforces, and the namespace rule (docs/protocols.md §Credential shapes and limits and
//! §Credential Store namespace).

use cfenv::Secret;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The credential types this client handles (keyrings are out of scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialType {
    /// A password credential: `value` plus optional `username`.
    Password,
    /// A key credential: base64 `value` plus optional `format`.
    Key,
}

impl CredentialType {
    /// The REST path segment for one credential (`password`, `key`).
    pub fn path(self) -> &'static str {
        match self {
            CredentialType::Password => "password",
            CredentialType::Key => "key",
        }
    }

    /// The REST path segment for listing (`passwords`, `keys`).
    pub fn list_path(self) -> &'static str {
        match self {
            CredentialType::Password => "passwords",
            CredentialType::Key => "keys",
        }
    }

    /// Parses `password`/`key` (also the plural forms).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" | "passwords" => Some(CredentialType::Password),
            "key" | "keys" => Some(CredentialType::Key),
            _ => None,
        }
    }

    /// Largest `value` the store accepts, in characters (passwords) or decoded bytes (keys).
    pub fn max_value_len(self) -> usize {
        match self {
            CredentialType::Password => 4096,
            CredentialType::Key => 32 * 1024,
        }
    }
}

impl std::fmt::Display for CredentialType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path())
    }
}

/// A credential as read from the store. `value` is masked in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Which type it is.
    pub kind: CredentialType,
    /// The store's id for it.
    pub id: Option<String>,
    /// Its name (unique per type within a namespace).
    pub name: String,
    /// When it was last changed (ISO-8601, as the store writes it).
    pub modified_at: Option<String>,
    /// The secret value: the password, or the base64 key bytes.
    pub value: Secret,
    /// For passwords: the user name (for AWS keys: the access key id).
    pub username: Option<String>,
    /// For keys: free-text format (`pem`, `aes`, …).
    pub format: Option<String>,
    /// Free-text metadata (often JSON text).
    pub metadata: Option<String>,
    /// The `ETag` the store sent with it (for conditional updates).
    pub etag: Option<String>,
}

/// A credential to create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// Its name.
    pub name: String,
    /// The secret value.
    pub value: Secret,
    /// For passwords: the user name.
    pub username: Option<String>,
    /// For keys: the format.
    pub format: Option<String>,
    /// Free-text metadata.
    pub metadata: Option<String>,
}

impl NewCredential {
    /// A credential with just a name and a value.
    pub fn new(name: impl Into<String>, value: impl Into<Secret>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            username: None,
            format: None,
            metadata: None,
        }
    }

    /// Sets the user name (passwords).
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets the format (keys).
    pub fn with_format(mut self, format: impl Into<String>) -> Self {
        self.format = Some(format.into());
        self
    }

    /// Sets the metadata text.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// Checks the store's limits (docs/protocols.md §Credential shapes and limits); errors name
    /// the field, never the value.
    pub fn validate(&self, kind: CredentialType) -> Result<(), Error> {
        validate_name(&self.name)?;
        let value = self.value.expose();
        if value.is_empty() {
            return Err(Error::invalid("value", "must not be empty"));
        }
        match kind {
            CredentialType::Password => {
                if value.chars().count() > kind.max_value_len() {
                    return Err(Error::invalid("value", "longer than 4096 characters"));
                }
                if self.format.is_some() {
                    return Err(Error::invalid(
                        "format",
                        "only key credentials have a format",
                    ));
                }
            }
            CredentialType::Key => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .map_err(|_| Error::invalid("value", "a key value must be base64"))?;
                if bytes.len() > kind.max_value_len() {
                    return Err(Error::invalid("value", "key longer than 32 KiB"));
                }
                if self.username.is_some() {
                    return Err(Error::invalid(
                        "username",
                        "only password credentials have a username",
                    ));
                }
            }
        }
        check_len("username", self.username.as_deref(), 1024)?;
        check_len("format", self.format.as_deref(), 255)?;
        check_len("metadata", self.metadata.as_deref(), 10_000)?;
        Ok(())
    }
}

/// What a list call returns per credential: no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialMeta {
    /// The store's id.
    #[serde(default)]
    pub id: Option<String>,
    /// The name.
    pub name: String,
    /// Last change.
    #[serde(default)]
    pub modified_at: Option<String>,
    /// User name (passwords).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Format (keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// The JSON inside the JWE, as the store sends and accepts it. Not `Debug`: it holds the value.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireCredential {
    /// Store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    /// The secret value, in clear: only ever inside a JWE or in memory.
    pub value: String,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Metadata text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

impl WireCredential {
    /// The request body for a create/update.
    pub fn from_new(c: &NewCredential) -> Self {
        Self {
            id: None,
            name: c.name.clone(),
            modified_at: None,
            value: c.value.expose().to_owned(),
            username: c.username.clone(),
            format: c.format.clone(),
            metadata: c.metadata.clone(),
        }
    }

    /// Into the public type.
    pub fn into_credential(self, kind: CredentialType) -> Credential {
        Credential {
            kind,
            id: self.id,
            name: self.name,
            modified_at: self.modified_at,
            value: Secret::new(self.value),
            username: self.username,
            format: self.format,
            metadata: self.metadata,
            etag: None,
        }
    }
}

/// One page of a list response (`content`, `last`, `number`, `totalElements`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// The credentials on this page.
    pub content: Vec<CredentialMeta>,
    /// Whether this is the last page.
    #[serde(default = "yes")]
    pub last: bool,
    /// This page's number (0-based).
    #[serde(default)]
    pub number: u32,
    /// How many credentials there are in all.
    #[serde(default)]
    pub total_elements: Option<u64>,
}

fn yes() -> bool {
    true
}

/// Checks a namespace: letters, digits and `_ - . : ! ~`, 1 to 100 characters.
pub fn validate_namespace(ns: &str) -> Result<(), Error> {
    if ns.is_empty() || ns.len() > 100 {
        return Err(Error::invalid("namespace", "must have 1 to 100 characters"));
    }
    if !ns
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.:!~".contains(c))
    {
        return Err(Error::invalid(
            "namespace",
            "may contain only letters, digits and _ - . : ! ~",
        ));
    }
    Ok(())
}

/// Checks a credential name: 1 to 255 characters, no control characters.
pub fn validate_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().count() > 255 {
        return Err(Error::invalid("name", "must have 1 to 255 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn check_len(field: &'static str, v: Option<&str>, max: usize) -> Result<(), Error> {
    match v {
        Some(v) if v.chars().count() > max => Err(Error::invalid(
            field,
            format!("longer than {max} characters"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // The errors of the wire types go through `cfenv::text::json_error`: none quotes a value.
    #[test]
    fn json_errors_never_quote_a_value() {
        use cfenv::text::json_error;
        let e = serde_json::from_str::<WireCredential>(
            r#"{"name":"n","value":"x","username":["secret-in-array"]}"#,
        )
        .err()
        .unwrap();
        let text = json_error(&e);
        assert!(
            !text.contains("secret-in-array") && text.contains("line 1"),
            "{text}"
        );
        let e = serde_json::from_str::<WireCredential>(r#"{"name":"n"}"#)
            .err()
            .unwrap();
        assert!(json_error(&e).contains("missing field `value`"));
    }
}
