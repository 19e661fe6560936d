//! The local XSUAA's users: read from a JSON file the developer writes, or, without one, the
//! default users `alice` (Bridge Editor) and `bob` (Bridge Viewer) with random passwords,
//! created on first start and sealed in `xsuaa/users.bin`.
//!
//! File format (an array; only `username` and `password` are required):
//!
//! ```json
//! [{"username": "carol", "password": "…", "email": "carol@example.com",
//!   "given_name": "Carol", "family_name": "Example",
//!   "role_collections": ["Bridge Viewer"], "attributes": {"Country": ["DE"]}}]
//! ```
//!
//! Role collections must exist in the descriptor. A user's GUID (`sub`, `user_id`) is derived
//! from the user name, so it stays the same across restarts and edits of the file. Errors name
//! the file and the user, never a password.

use std::collections::BTreeMap;
use std::path::Path;

use cfenv::Secret;
use serde::{Deserialize, Serialize};
use xsuaa::descriptor::SecurityDescriptor;

use crate::error::DevError;
use crate::files;
use crate::vault::Vault;

/// A user that can sign in.
pub(super) struct User {
    /// The user GUID (`sub`, `user_id`).
    pub(super) id: String,
    pub(super) username: String,
    pub(super) password: Secret,
    pub(super) email: String,
    pub(super) given_name: String,
    pub(super) family_name: String,
    pub(super) role_collections: Vec<String>,
    pub(super) attributes: BTreeMap<String, Vec<String>>,
}

/// One user as written in the users file (and in the sealed default users).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    username: String,
    password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    family_name: Option<String>,
    #[serde(default)]
    role_collections: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, Vec<String>>,
}

/// Loads the users from `users_path`, or the default users sealed at `defaults_path`
/// (creating them on first start).
pub(super) fn load(
    users_path: Option<&Path>,
    defaults_path: &Path,
    vault: &Vault,
    descriptor: &SecurityDescriptor,
) -> Result<Vec<User>, DevError> {
    let (records, path, check_collections) = match users_path {
        Some(path) => {
            let text = files::read_string(path)?;
            let records: Vec<Record> = serde_json::from_str(&text).map_err(|e| {
                corrupt(
                    path,
                    format!("not a users file: {}", cfenv::text::json_error(&e)),
                )
            })?;
            (records, path, true)
        }
        None => {
            let records: Vec<Record> =
                vault.load_or_create_json(defaults_path, || Ok(default_records()))?;
            // The default users name the repository descriptor's collections; with another
            // descriptor they simply get no scopes.
            (records, defaults_path, false)
        }
    };
    let mut users: Vec<User> = Vec::with_capacity(records.len());
    for (i, r) in records.into_iter().enumerate() {
        let who = if r.username.is_empty() {
            format!("user #{}", i + 1)
        } else {
            format!("user `{}`", r.username)
        };
        if r.username.trim().is_empty() || r.username.chars().any(char::is_control) {
            return Err(corrupt(path, format!("{who}: username must not be empty")));
        }
        if r.password.is_empty() {
            return Err(corrupt(path, format!("{who}: password must not be empty")));
        }
        if users
            .iter()
            .any(|u| u.username.eq_ignore_ascii_case(&r.username))
        {
            return Err(corrupt(path, format!("{who} is listed twice")));
        }
        if check_collections
            && let Some(unknown) = r
                .role_collections
                .iter()
                .find(|c| descriptor.role_collection(c).is_none())
        {
            return Err(corrupt(
                path,
                format!("{who}: role collection `{unknown}` is not in the security descriptor"),
            ));
        }
        let id = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("btp-aws-bridge dev user {}", r.username).as_bytes(),
        );
        users.push(User {
            id: id.to_string(),
            email: r
                .email
                .unwrap_or_else(|| format!("{}@example.com", r.username)),
            given_name: r.given_name.unwrap_or_else(|| capitalised(&r.username)),
            family_name: r.family_name.unwrap_or_else(|| "Example".to_owned()),
            username: r.username,
            password: Secret::new(r.password),
            role_collections: r.role_collections,
            attributes: r.attributes,
        });
    }
    Ok(users)
}

fn default_records() -> Vec<Record> {
    let user = |name: &str, collection: &str| Record {
        username: name.to_owned(),
        password: super::random_urlsafe(18),
        email: Some(format!("{name}@example.com")),
        given_name: Some(capitalised(name)),
        family_name: Some("Example".to_owned()),
        role_collections: vec![collection.to_owned()],
        attributes: BTreeMap::new(),
    };
    vec![user("alice", "Bridge Editor"), user("bob", "Bridge Viewer")]
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A users file the developer wrote is invalid.
fn corrupt(path: &Path, reason: String) -> DevError {
    DevError::Config {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn json_errors_never_quote_values() {
        let e = serde_json::from_str::<Vec<Record>>(r#"[{"username": "a", "password": 12345678}]"#)
            .err()
            .unwrap();
        let text = cfenv::text::json_error(&e);
        assert!(!text.contains("12345678"), "{text}");
        let e = serde_json::from_str::<Vec<Record>>(r#"[{"username": "a", "passwd": "x"}]"#)
            .err()
            .unwrap();
        assert!(cfenv::text::json_error(&e).contains("unknown field `passwd`"));
    }
}
