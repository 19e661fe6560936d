//! `bridge env check`.

use crate::util::{bridge, run};

const SECRET: &str = "env-check-password-424242";

fn vcap(credstore_credentials: serde_json::Value) -> String {
    serde_json::json!({
        "credstore": [{
            "label": "credstore", "name": "my-credstore", "plan": "standard",
            "tags": ["credstore"], "credentials": credstore_credentials
        }],
        "user-provided": [{
            "label": "user-provided", "name": "aws-config", "tags": [],
            "credentials": {"region": "eu-central-1"}
        }]
    })
    .to_string()
}

#[test]
fn reports_bindings_without_values() {
    testkit::logs::init();
    testkit::logs::secret(SECRET);
    let ok = vcap(serde_json::json!({
        "url": "https://credstore.example/api/v1/credentials", "username": "u", "password": SECRET
    }));
    let r = run(
        bridge()
            .env("VCAP_SERVICES", &ok)
            .env("PORT", "8080")
            .args(["env", "check"]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("credstore: ok (my-credstore)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("aws-config"), "{}", r.stdout);
    assert!(
        r.stdout.contains("password"),
        "field names are shown: {}",
        r.stdout
    );
    assert!(r.stdout.contains("PORT: 8080"));
    assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));
}

#[test]
fn missing_or_broken_required_binding_fails() {
    testkit::logs::init();
    let no_url = vcap(serde_json::json!({"username": "u", "password": SECRET}));
    let r = run(
        bridge()
            .env("VCAP_SERVICES", &no_url)
            .args(["env", "check"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("my-credstore") && r.stdout.contains("credentials.url"),
        "names service and field: {}",
        r.stdout
    );
    assert!(!r.stdout.contains(SECRET));

    let r = run(
        bridge()
            .env("VCAP_SERVICES", "{}")
            .args(["env", "check", "--require", "credstore,xsuaa"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("credstore: MISSING"), "{}", r.stdout);
    assert!(r.stdout.contains("xsuaa: MISSING"), "{}", r.stdout);

    let r = run(
        bridge().env("VCAP_SERVICES", "[1,2").args(["env", "check"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("VCAP_SERVICES") && r.stdout.contains("line"),
        "{}",
        r.stdout
    );

    let r = run(
        bridge()
            .env("VCAP_SERVICES", "{}")
            .env("PORT", "http")
            .args(["env", "check"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("PORT"), "{}", r.stdout);

    let r = run(bridge().args(["env", "check"]), "", false);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("VCAP_SERVICES"), "{}", r.stdout);
}
