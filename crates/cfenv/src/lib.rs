//! The Cloud Foundry environment — `VCAP_SERVICES`, `VCAP_APPLICATION`, `PORT` — as typed
//! bindings.
//!
//! **Architecture invariant:** this crate does no IO beyond reading environment variables
//! (through [`Env`], which tests replace) and the one file `VCAP_SERVICES_FILE_PATH` names.
//! No network, no async, no logging.
//!
//! Reading goes in two stages:
//!
//! 1. *Raw*: [`Vcap`] is the document as written — every [`ServiceInstance`] with label, name,
//!    plan, tags and raw credentials. [`Vcap::to_json`] writes it back unchanged.
//! 2. *Validated*: [`Vcap::xsuaa`], [`Vcap::credstore`], [`Vcap::privatelink`],
//!    [`Vcap::postgres`], [`Vcap::alert_notification`] and [`Vcap::user_provided`] pick one instance (see [`Vcap::find`]) and
//!    check its credentials into a typed binding.
//!
//! Credential values never appear in `Debug`, `Display` or error messages: secrets are
//! [`Secret`]s, raw credentials print field names only, and errors name variables, instances
//! and field paths but no values.
//!
//! ```
//! use cfenv::{Env, Vcap};
//!
//! let env = Env::from_pairs([(
//!     "VCAP_SERVICES",
//!     r#"{"privatelink": [{"label": "privatelink", "name": "s3-pl", "tags": [],
//!         "credentials": {"hostname": "*.vpce-1-a.s3.eu-central-1.vpce.amazonaws.com"}}]}"#,
//! )]);
//! let vcap = Vcap::from_env(&env)?;
//! let link = vcap.privatelink(None)?;
//! assert_eq!(link.s3_endpoint(), "https://bucket.vpce-1-a.s3.eu-central-1.vpce.amazonaws.com");
//! # Ok::<(), cfenv::Error>(())
//! ```
//!
//! Modules:
//!
//! - `env`: [`Env`] (injectable variable lookup), [`vars`] (every variable read), [`port`].
//! - `vcap`: the raw stage, [`Vcap`], [`ServiceInstance`], lookup rules, [`Vcap::summary`].
//! - `xsuaa`, `credstore`, `privatelink`, `postgres`, `alert_notification`, `user_provided`:
//!   one typed binding each.
//! - `application`: [`VcapApplication`].
//! - `secret`: [`Secret`].
//! - [`text`]: secret-safe message text (cutting service messages, JSON errors by position,
//!   error chains on one line), used by every crate that reports outside text.
//! - `error`: [`Error`] and its policy.
//! - `fields` (private): typed reads from a JSON object with error context.

mod alert_notification;
mod application;
mod credstore;
mod env;
mod error;
mod fields;
mod postgres;
mod privatelink;
mod secret;
pub mod text;
mod user_provided;
mod vcap;
mod xsuaa;

pub use alert_notification::AlertNotificationBinding;
pub use application::{Limits, VcapApplication};
pub use credstore::{CredStoreAuth, CredStoreBinding, CredStoreEncryption};
pub use env::{Env, port, vars};
pub use error::{Error, FieldError, InstanceRef, Problem, Query};
pub use postgres::PostgresBinding;
pub use privatelink::PrivateLinkBinding;
pub use secret::Secret;
pub use user_provided::UserProvided;
pub use vcap::{InstanceSummary, ServiceInstance, ServiceKind, Vcap};
pub use xsuaa::{XsuaaBinding, XsuaaCredentialType};
