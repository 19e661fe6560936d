//! Integration tests for `cfenv`: one binary, one module per area.
#![allow(clippy::unwrap_used)]

/// Fixture loading and the small builders every module uses.
mod common;

/// Typed bindings: values read from the fixtures, required fields, error wording.
mod bindings;
/// Reading from the environment: `VCAP_SERVICES[_FILE_PATH]`, `VCAP_APPLICATION`, `PORT`.
mod environment;
/// Every fixture parses (or fails as intended) and round-trips.
mod fixtures;
/// Selecting one instance by name, label or tag.
mod lookup;
/// No secret value in any `Debug`, `Display` or error message.
mod secrets;
