//! No secret value reaches `Debug`, `Display` or an error message.
//!
//! The inputs carry marker strings in every credential value; every error produced from them,
//! and every binding built from them, is printed both ways and searched for the marker.

use cfenv::{Env, Error, Secret, Vcap, VcapApplication, vars};
use serde_json::{Value, json};

use crate::common::{single, vcap};

const MARK: &str = "MARKER";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(MARK), "{what} leaks a marker: {text}");
}

fn assert_error_clean(error: &Error) {
    assert_clean("error Display", &error.to_string());
    assert_clean("error Debug", &format!("{error:?}"));
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        assert_clean("error source", &inner.to_string());
        source = inner.source();
    }
}

/// Valid credentials per label, with a marker in every value (URLs carry it in their path, so
/// they stay valid).
fn marked(label: &str) -> Value {
    let url = |n: u32| json!(format!("https://host.example/{MARK}-url-{n}"));
    let s = |n: u32| json!(format!("{MARK}-{n}"));
    match label {
        "xsuaa" => json!({
            "clientid": s(1), "clientsecret": s(2), "credential-type": "x509", "certificate": s(3),
            "key": s(4), "certurl": url(5), "url": url(6), "uaadomain": s(7), "xsappname": s(8),
            "identityzone": s(9), "zoneid": s(10), "tenantmode": s(11), "verificationkey": s(12),
        }),
        "credstore" => json!({
            "url": url(1), "username": s(2), "password": s(3), "certificate": s(4), "key": s(5),
            "private_key": s(6), "oauth_token_url": url(7), "expires_at": s(8),
            "encryption": { "client_private_key": s(9), "server_public_key": s(10) },
        }),
        "privatelink" => json!({ "hostname": format!("*.{}.example", MARK.to_lowercase()) }),
        "postgresql-db" => json!({
            "uri": s(1), "hostname": s(2), "port": format!("{MARK}-3"), "dbname": s(4),
            "username": s(5), "password": s(6), "sslrootcert": s(7),
        }),
        _ => json!({ "region": s(1), "endpoint": url(2), "secret": s(3) }),
    }
}

/// Bad values to put into a field, each carrying the marker.
fn bad_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(""),
        json!(7),
        json!(true),
        json!([MARK]),
        json!({ "k": MARK }),
        json!(format!("{MARK} not a url")),
        json!(format!("https://{MARK}:{MARK}@host.example/")),
        json!(format!("ftp://{MARK}.example/")),
        json!(format!("https://{MARK}.example:99999/")),
        json!(format!("{MARK}.example/x")),
    ]
}

fn parse_all(vcap: &Vcap, label: &str) -> Vec<Result<(), Error>> {
    match label {
        "xsuaa" => vec![vcap.xsuaa(None).map(drop)],
        "credstore" => vec![vcap.credstore(None).map(drop)],
        "privatelink" => vec![vcap.privatelink(None).map(drop)],
        "postgresql-db" => vec![vcap.postgres(None).map(drop)],
        _ => {
            let up = vcap.user_provided("svc");
            let Ok(up) = up else {
                return vec![up.map(drop)];
            };
            ["region", "endpoint", "secret", "absent"]
                .iter()
                .flat_map(|field| {
                    [
                        up.string(field).map(drop),
                        up.secret(field).map(drop),
                        up.url(field).map(drop),
                        up.optional_url(field).map(drop),
                        up.optional_string(field).map(drop),
                    ]
                })
                .collect()
        }
    }
}

#[test]
fn binding_errors_never_contain_values() {
    let mut errors = 0;
    for label in [
        "xsuaa",
        "credstore",
        "privatelink",
        "postgresql-db",
        "user-provided",
    ] {
        let base = marked(label);
        let mut variants = vec![base.clone(), json!({}), Value::Null];
        for field in base.as_object().unwrap().keys() {
            let mut removed = base.clone();
            removed.as_object_mut().unwrap().remove(field);
            variants.push(removed);
            for bad in bad_values() {
                let mut changed = base.clone();
                changed[field] = bad;
                variants.push(changed);
            }
        }
        for credentials in variants {
            let vcap = single(label, "svc", credentials);
            for result in parse_all(&vcap, label) {
                if let Err(error) = result {
                    assert_error_clean(&error);
                    errors += 1;
                }
            }
        }
    }
    // Make sure the loop really exercised the error paths.
    assert!(errors > 100, "only {errors} errors produced");
}

#[test]
fn document_errors_never_contain_values() {
    let docs = [
        format!(
            r#"{{"xsuaa": [{{"name": "n", "credentials": {{"a": "{MARK}" "b": "{MARK}"}}}}]}}"#
        ),
        format!(r#"{{"xsuaa": [{{"name": "n", "credentials": {{"a": "{MARK}\q"}}}}]}}"#),
        format!(r#"{{"xsuaa": [{{"name": "n", "credentials": {{"a": "{MARK}"#),
        format!(r#"{{"xsuaa": [{{"name": "n", "credentials": "{MARK}"}}]}}"#),
        format!(r#"{{"xsuaa": [{{"name": "n", "tags": ["{MARK}", 1]}}]}}"#),
        format!(r#"{{"xsuaa": [{{"name": "n", "plan": ["{MARK}"]}}]}}"#),
        format!(r#"{{"xsuaa": "{MARK}"}}"#),
        format!(r#"{{"xsuaa": ["{MARK}"]}}"#),
        format!(r#""{MARK}""#),
        format!(r#"["{MARK}"]"#),
        format!(r#"{{"a": [], "a": ["{MARK}"]}}"#),
        format!("{{\"a\": [{{\"name\": \"n\", \"x\": \"{MARK}\u{1}\"}}]}}"),
        format!(r#"{{"a": [{{"name": "n", "x": {MARK}}}]}}"#),
        format!(r#"{{"a": [{{"name": "n", "x": 1e999, "y": "{MARK}"}}]}}"#),
        fixture_with_marker(),
    ];
    for doc in &docs {
        let error = Vcap::from_json(doc, "VCAP_SERVICES").unwrap_err();
        assert_error_clean(&error);
        let error = VcapApplication::from_json(doc, "VCAP_APPLICATION").err();
        if let Some(error) = error {
            assert_error_clean(&error);
        }
    }
    let app = format!(r#"{{"application_name": ["{MARK}"], "limits": {{"mem": "{MARK}"}}}}"#);
    assert_error_clean(&VcapApplication::from_json(&app, "VCAP_APPLICATION").unwrap_err());
    let app = format!(r#"{{"limits": {{"mem": "{MARK}"}}}}"#);
    assert_error_clean(&VcapApplication::from_json(&app, "VCAP_APPLICATION").unwrap_err());
}

fn fixture_with_marker() -> String {
    // The broken fixture has a marker next to its syntax error.
    let text = crate::common::fixture("broken_malformed.json");
    assert!(text.contains(MARK));
    text
}

#[test]
fn lookup_errors_name_instances_but_no_values() {
    let v = vcap("broken_two_xsuaa.json");
    assert_error_clean(&v.xsuaa(None).unwrap_err());
    assert_error_clean(&v.credstore(None).unwrap_err());
    assert_error_clean(&v.raw("nope").unwrap_err());
    let env = Env::from_pairs([(
        vars::VCAP_SERVICES,
        crate::common::fixture("broken_malformed.json"),
    )]);
    assert_error_clean(&Vcap::from_env(&env).unwrap_err());
}

#[test]
fn bindings_print_no_secret() {
    // Markers only in the secret fields; the rest must be valid and is allowed to print.
    let secret = |n: u32| json!(format!("{MARK}-{n}"));
    let xsuaa = single(
        "xsuaa",
        "svc",
        json!({
            "clientid": "sb-x!t1", "clientsecret": secret(1), "certificate": secret(2), "key": secret(3),
            "url": "https://x.authentication.example", "uaadomain": "authentication.example",
            "xsappname": "x!t1",
        }),
    );
    let b = xsuaa.xsuaa(None).unwrap();
    assert_clean("XsuaaBinding", &format!("{b:?} {b:#?}"));
    assert_eq!(
        b.clientsecret.as_ref().map(Secret::expose),
        Some("MARKER-1")
    );

    let credstores = [
        json!({ "url": "https://c.example/api/v1/credentials", "username": "u", "password": secret(1),
                "encryption": { "client_private_key": secret(2), "server_public_key": "MIIB" } }),
        json!({ "url": "https://c.example/api/v1/credentials", "username": "u",
                "certificate": secret(3), "key": secret(4) }),
        json!({ "url": "https://c.example/api/v1/credentials", "username": "u",
                "certificate": secret(3), "key": secret(4), "oauth_token_url": "https://c.example/t" }),
        json!({ "url": "https://c.example/api/v1/credentials", "username": "u",
                "private_key": secret(5), "oauth_token_url": "https://c.example/t" }),
    ];
    for credentials in credstores {
        let b = single("credstore", "svc", credentials)
            .credstore(None)
            .unwrap();
        assert_clean("CredStoreBinding", &format!("{b:?} {b:#?}"));
    }

    let pg = single(
        "postgresql-db",
        "svc",
        json!({ "uri": secret(1), "hostname": "db.example", "port": 5432, "dbname": "d",
                "username": "u", "password": secret(2) }),
    );
    let b = pg.postgres(None).unwrap();
    assert_clean("PostgresBinding", &format!("{b:?} {b:#?}"));
}

#[test]
fn raw_stage_prints_no_credential_value() {
    for label in ["xsuaa", "credstore", "postgresql-db", "user-provided"] {
        let v = single(label, "svc", marked(label));
        assert_clean("Vcap", &format!("{v:?} {v:#?}"));
        assert_clean("ServiceInstance", &format!("{:?}", v.instances()[0]));
        for line in v.summary() {
            assert_clean("summary", &format!("{line} {line:?}"));
        }
        let up = v.user_provided("svc").unwrap();
        assert_clean("UserProvided", &format!("{up:?} {up:#?}"));
        // The values are there, on request.
        assert!(up.expose().values().any(|v| v.to_string().contains(MARK)));
    }
    // Extra keys (a syslog drain URL can hold credentials) print by name only.
    let json = format!(
        r#"{{"x": [{{"name": "n", "syslog_drain_url": "syslog-tls://u:{MARK}@h:1", "credentials": {{}}}}]}}"#
    );
    let v = Vcap::from_json(&json, "VCAP_SERVICES").unwrap();
    assert_clean("ServiceInstance extra", &format!("{v:?}"));
    assert!(v.to_json().contains(MARK), "to_json writes everything back");
}

#[test]
fn spec_fixture_secrets_stay_hidden() {
    let v = vcap("vcap_services.json");
    let secrets = [
        "6f1e0d2c-3b4a-5c6d-7e8f-9a0b1c2d3e4f$Qm9ndXNTZWNyZXRWYWx1ZUZvckVtdWxhdG9yPQ==",
        "mCjH5fkExamplePassword",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "pg-secret",
    ];
    let printed = format!(
        "{v:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        v.xsuaa(None).unwrap(),
        v.credstore(None).unwrap(),
        v.postgres(None).unwrap(),
        v.user_provided("aws-config").unwrap(),
        v.summary(),
    );
    for secret in secrets {
        assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
    }
}
