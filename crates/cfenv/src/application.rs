//! [`VcapApplication`]: the app's own metadata from `VCAP_APPLICATION` (docs/protocols.md
//! §VCAP shapes).
//!
//! Every field is optional and unknown keys are ignored: the app must start without the
//! variable (locally), and Cloud Foundry adds keys over time.

use serde::Serialize;
use serde_json::Value;

use crate::env::vars;
use crate::fields::{Ctx, Obj};
use crate::{Env, Error, Problem};

/// Resource limits (`limits`), as Cloud Foundry writes them (`mem` and `disk` in MB).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Disk quota in MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<u64>,
    /// File descriptor limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fds: Option<u64>,
    /// Memory limit in MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem: Option<u64>,
}

/// The fields of `VCAP_APPLICATION` this project uses. Nothing in it is secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VcapApplication {
    /// Application GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// Application name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_name: Option<String>,
    /// Routes mapped to the app (host names without scheme).
    pub application_uris: Vec<String>,
    /// Version GUID of the running droplet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_version: Option<String>,
    /// Cloud Controller API URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cf_api: Option<String>,
    /// Same as `application_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Organization GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Organization name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// Space GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// Space name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space_name: Option<String>,
    /// Same as `application_uris`.
    pub uris: Vec<String>,
    /// Process GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_id: Option<String>,
    /// Process type, e.g. `web`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_type: Option<String>,
    /// Resource limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

impl VcapApplication {
    /// Reads `VCAP_APPLICATION`; `None` when it is unset (not on Cloud Foundry).
    pub fn from_env(env: &Env) -> Result<Option<Self>, Error> {
        env.var(vars::VCAP_APPLICATION)
            .map(|json| Self::from_json(&json, vars::VCAP_APPLICATION))
            .transpose()
    }

    /// Parses a document; `origin` is what errors name.
    pub fn from_json(json: &str, origin: &str) -> Result<Self, Error> {
        // Parse to a Value first: serde's typed errors quote values; ours do not.
        let value: Value = serde_json::from_str(json).map_err(|e| Error::json(origin, &e))?;
        let Value::Object(map) = &value else {
            return Err(Error::Shape {
                origin: origin.to_owned(),
                path: "top level".to_owned(),
                problem: Problem::ExpectedObject,
            });
        };
        let o = Obj::new(Ctx::Document { origin }, "", map);
        let limits = match o.opt_object("limits")? {
            None => None,
            Some(l) => Some(Limits {
                disk: l.opt_u64("disk")?,
                fds: l.opt_u64("fds")?,
                mem: l.opt_u64("mem")?,
            }),
        };
        Ok(Self {
            application_id: o.opt_string("application_id")?,
            application_name: o.opt_string("application_name")?,
            application_uris: o.string_list("application_uris")?,
            application_version: o.opt_string("application_version")?,
            cf_api: o.opt_string("cf_api")?,
            name: o.opt_string("name")?,
            organization_id: o.opt_string("organization_id")?,
            organization_name: o.opt_string("organization_name")?,
            space_id: o.opt_string("space_id")?,
            space_name: o.opt_string("space_name")?,
            uris: o.string_list("uris")?,
            process_id: o.opt_string("process_id")?,
            process_type: o.opt_string("process_type")?,
            limits,
        })
    }

    /// Writes the modelled fields as compact JSON; `from_json(&a.to_json(), _) == a`.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, lists and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
