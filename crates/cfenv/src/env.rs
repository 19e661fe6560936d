//! Access to environment variables ([`Env`]), the list of variables this crate reads
//! ([`vars`]), and the listening port ([`port`]).
//!
//! Nothing here touches the process environment unless asked to through
//! [`Env::from_process`]; tests build an [`Env`] from a map instead.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::Error;

/// Every environment variable this crate reads. Keep `docs/CONFIG.md` in step with [`ALL`](vars::ALL).
pub mod vars {
    /// The service bindings as a JSON document.
    pub const VCAP_SERVICES: &str = "VCAP_SERVICES";
    /// Path of a file holding the `VCAP_SERVICES` document; read first, as @sap/xsenv does.
    pub const VCAP_SERVICES_FILE_PATH: &str = "VCAP_SERVICES_FILE_PATH";
    /// The application's own metadata as a JSON document.
    pub const VCAP_APPLICATION: &str = "VCAP_APPLICATION";
    /// The port the application must listen on.
    pub const PORT: &str = "PORT";
    /// The instance's external port; the fallback when `PORT` is unset.
    pub const CF_INSTANCE_PORT: &str = "CF_INSTANCE_PORT";
    /// All of the above.
    pub const ALL: [&str; 5] = [
        VCAP_SERVICES,
        VCAP_SERVICES_FILE_PATH,
        VCAP_APPLICATION,
        PORT,
        CF_INSTANCE_PORT,
    ];
}

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// A source of environment variables: the process environment, or anything else.
///
/// An empty value counts as unset, as in @sap/xsenv and Node `cfenv`, which test
/// `process.env.X` for truthiness.
#[derive(Clone)]
pub struct Env {
    lookup: Arc<Lookup>,
}

impl Env {
    /// Reads the process environment (values that are not valid UTF-8 count as unset).
    pub fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Arc::new(lookup),
        }
    }

    /// Reads variables from a fixed set of pairs; handy in tests.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_lookup(move |name| map.get(name).cloned())
    }

    /// The value of `name`, or `None` when it is unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.is_empty())
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The values may be secrets (VCAP_SERVICES is full of them), so print nothing.
        f.write_str("Env { .. }")
    }
}

/// The port to listen on: `PORT`, else `CF_INSTANCE_PORT`, else `None` (not on Cloud Foundry;
/// the caller picks a local default).
///
/// A set but invalid value is an error naming the variable and the value; it does not fall
/// through to the next variable, because a typo should not silently move the listener.
pub fn port(env: &Env) -> Result<Option<u16>, Error> {
    for variable in [vars::PORT, vars::CF_INSTANCE_PORT] {
        if let Some(value) = env.var(variable) {
            return match value.parse::<u16>() {
                Ok(port) if port != 0 => Ok(Some(port)),
                _ => Err(Error::InvalidPort { variable, value }),
            };
        }
    }
    Ok(None)
}
