//! [`UserProvided`]: the raw credentials of a user-provided service (or any instance picked by
//! name), with typed reads that report errors like the typed bindings do.

use std::fmt;

use serde_json::{Map, Value};
use url::Url;

use crate::fields::{Ctx, Obj};
use crate::{Error, Secret, ServiceInstance};

/// The credentials object of one instance, kept as raw JSON. `Debug` prints field names only.
///
/// The typed readers (`string`, `secret`, `url`, …) give errors that name the origin, the
/// instance and `credentials.<field>`, like every other binding.
#[derive(Clone, PartialEq)]
pub struct UserProvided {
    /// The instance's `name`.
    pub instance_name: String,
    /// The instance's `label` (normally `user-provided`).
    pub label: String,
    origin: String,
    credentials: Map<String, Value>,
}

impl UserProvided {
    pub(crate) fn parse(origin: &str, instance: &ServiceInstance) -> Result<Self, Error> {
        let credentials = instance.credentials_obj(origin)?.map().clone();
        Ok(Self {
            instance_name: instance.name.clone(),
            label: instance.label.clone(),
            origin: origin.to_owned(),
            credentials,
        })
    }

    fn obj(&self) -> Obj<'_> {
        let ctx = Ctx::Instance {
            origin: &self.origin,
            instance: &self.instance_name,
            label: &self.label,
        };
        Obj::new(ctx, "credentials", &self.credentials)
    }

    /// The credential field names, never their values.
    pub fn field_names(&self) -> Vec<&str> {
        self.credentials.keys().map(String::as_str).collect()
    }

    /// The raw credentials object. The values may be secrets: never print them.
    pub fn expose(&self) -> &Map<String, Value> {
        &self.credentials
    }

    /// A required string field.
    pub fn string(&self, field: &str) -> Result<String, Error> {
        self.obj().string(field)
    }

    /// An optional string field (`null` and `""` count as absent).
    pub fn optional_string(&self, field: &str) -> Result<Option<String>, Error> {
        self.obj().opt_string(field)
    }

    /// A required string field holding a secret.
    pub fn secret(&self, field: &str) -> Result<Secret, Error> {
        self.obj().secret(field)
    }

    /// An optional string field holding a secret.
    pub fn optional_secret(&self, field: &str) -> Result<Option<Secret>, Error> {
        self.obj().opt_secret(field)
    }

    /// A required absolute `http`/`https` URL without user info.
    pub fn url(&self, field: &str) -> Result<Url, Error> {
        self.obj().url(field)
    }

    /// An optional URL, with the rules of [`UserProvided::url`].
    pub fn optional_url(&self, field: &str) -> Result<Option<Url>, Error> {
        self.obj().opt_url(field)
    }
}

impl fmt::Debug for UserProvided {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserProvided")
            .field("instance_name", &self.instance_name)
            .field("label", &self.label)
            .field("credential_fields", &self.field_names())
            .finish_non_exhaustive()
    }
}
