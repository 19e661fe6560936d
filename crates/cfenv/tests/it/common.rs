//! Fixture loading and builders shared by the test modules.

use std::path::PathBuf;

use cfenv::Vcap;
use serde_json::Value;

/// Path of a fixture in `tests/data`.
pub(crate) fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Text of a fixture in `tests/data`.
pub(crate) fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap()
}

/// A fixture parsed as `VCAP_SERVICES`.
pub(crate) fn vcap(name: &str) -> Vcap {
    Vcap::from_json(&fixture(name), "VCAP_SERVICES").unwrap()
}

/// A document with one instance per `(label, name, tags, credentials)`, grouped by label in
/// order of first appearance.
pub(crate) fn doc(instances: &[(&str, &str, &[&str], Value)]) -> Vcap {
    let mut groups: Vec<(&str, Vec<Value>)> = Vec::new();
    for (label, name, tags, credentials) in instances {
        let entry = serde_json::json!({
            "label": label, "name": name, "tags": tags, "credentials": credentials,
        });
        match groups.iter_mut().find(|(l, _)| l == label) {
            Some((_, entries)) => entries.push(entry),
            None => groups.push((label, vec![entry])),
        }
    }
    // Written by hand: a serde_json::Map would sort the labels.
    let body: Vec<String> = groups
        .into_iter()
        .map(|(label, entries)| format!("{}:{}", Value::from(label), Value::Array(entries)))
        .collect();
    Vcap::from_json(&format!("{{{}}}", body.join(",")), "VCAP_SERVICES").unwrap()
}

/// A document with one instance of `label` named `name` holding `credentials`.
pub(crate) fn single(label: &str, name: &str, credentials: Value) -> Vcap {
    doc(&[(label, name, &[], credentials)])
}

/// Removes `field` from a JSON object (a dotted path reaches into nested objects).
pub(crate) fn without(mut value: Value, field: &str) -> Value {
    let mut target = &mut value;
    let mut parts: Vec<&str> = field.split('.').collect();
    let last = parts.pop().unwrap();
    for part in parts {
        target = target.get_mut(part).unwrap();
    }
    target.as_object_mut().unwrap().remove(last);
    value
}

/// Sets `field` of a JSON object.
pub(crate) fn with(mut value: Value, field: &str, new: Value) -> Value {
    value.as_object_mut().unwrap().insert(field.to_owned(), new);
    value
}

/// The result of a lookup or parse as text: `Ok(...)` or the error message.
pub(crate) fn outcome<T>(result: Result<T, cfenv::Error>, ok: impl Fn(T) -> String) -> String {
    match result {
        Ok(value) => format!("Ok({})", ok(value)),
        Err(error) => error.to_string(),
    }
}
