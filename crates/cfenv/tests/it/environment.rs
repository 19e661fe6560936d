//! Reading from an injected environment: `VCAP_SERVICES[_FILE_PATH]`, `VCAP_APPLICATION`,
//! `PORT`. No test here touches the process environment.

use cfenv::{Env, Error, Vcap, VcapApplication, port, vars};

use crate::common::{fixture, fixture_path, vcap};

#[test]
fn vcap_services_from_the_variable() {
    let env = Env::from_pairs([(vars::VCAP_SERVICES, fixture("vcap_services.json"))]);
    let v = Vcap::from_env(&env).unwrap();
    assert_eq!(v, vcap("vcap_services.json"));
    assert_eq!(v.origin(), "VCAP_SERVICES");
}

#[test]
fn file_path_wins_over_the_variable() {
    let path = fixture_path("vcap_services_x509.json");
    let env = Env::from_pairs([
        (vars::VCAP_SERVICES_FILE_PATH, path.display().to_string()),
        (vars::VCAP_SERVICES, fixture("vcap_services.json")),
    ]);
    let v = Vcap::from_env(&env).unwrap();
    assert_eq!(v, vcap("vcap_services_x509.json"));
    assert_eq!(v.origin(), path.display().to_string());
}

#[test]
fn unreadable_file_names_variable_and_path() {
    let path = fixture_path("does-not-exist.json");
    let env = Env::from_pairs([(vars::VCAP_SERVICES_FILE_PATH, path.display().to_string())]);
    let error = Vcap::from_env(&env).unwrap_err();
    assert!(matches!(error, Error::ReadFile { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot read {} (named by VCAP_SERVICES_FILE_PATH)",
            path.display()
        )
    );
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn neither_variable_set() {
    // Empty counts as unset, as in @sap/xsenv.
    let env = Env::from_pairs([(vars::VCAP_SERVICES, "")]);
    let error = Vcap::from_env(&env).unwrap_err();
    assert!(matches!(error, Error::NotSet { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "not set: none of VCAP_SERVICES_FILE_PATH, VCAP_SERVICES has a value \
         (outside Cloud Foundry, set VCAP_SERVICES to a JSON document)"
    );
}

#[test]
fn env_from_lookup_and_debug() {
    let env = Env::from_lookup(|name| (name == "A").then(|| "1".to_owned()));
    assert_eq!(env.var("A").as_deref(), Some("1"));
    assert_eq!(env.var("B"), None);
    assert_eq!(format!("{env:?}"), "Env { .. }");
    // The process environment is readable (no assertion on its content).
    let _ = Env::from_process().var("PATH");
}

/// One `PORT` case: the variables set, and `Ok(port)` / `Ok(None)` or the error message.
fn check(pairs: &[(&str, &str)], expected: &str) {
    let env = Env::from_pairs(pairs.iter().copied());
    let got = match port(&env) {
        Ok(port) => format!("Ok({port:?})"),
        Err(error) => error.to_string(),
    };
    assert_eq!(got, expected, "{pairs:?}");
}

#[test]
fn port_parsing() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "Ok(None)"),
        (&[("PORT", "8080")], "Ok(Some(8080))"),
        (&[("CF_INSTANCE_PORT", "61001")], "Ok(Some(61001))"),
        (
            &[("PORT", "8080"), ("CF_INSTANCE_PORT", "61001")],
            "Ok(Some(8080))",
        ),
        (
            &[("PORT", ""), ("CF_INSTANCE_PORT", "61001")],
            "Ok(Some(61001))",
        ),
        (
            &[("PORT", "80a"), ("CF_INSTANCE_PORT", "61001")],
            "PORT: `80a` is not a valid port number (expected 1-65535)",
        ),
        (
            &[("PORT", "0")],
            "PORT: `0` is not a valid port number (expected 1-65535)",
        ),
        (
            &[("PORT", "65536")],
            "PORT: `65536` is not a valid port number (expected 1-65535)",
        ),
        (
            &[("PORT", " 80")],
            "PORT: ` 80` is not a valid port number (expected 1-65535)",
        ),
        (
            &[("CF_INSTANCE_PORT", "-1")],
            "CF_INSTANCE_PORT: `-1` is not a valid port number (expected 1-65535)",
        ),
    ];
    for (pairs, expected) in cases {
        check(pairs, expected);
    }
}

#[test]
fn vcap_application_from_env() {
    let none = Env::from_pairs([("OTHER", "x")]);
    assert_eq!(VcapApplication::from_env(&none).unwrap(), None);

    let env = Env::from_pairs([(vars::VCAP_APPLICATION, fixture("vcap_application.json"))]);
    let app = VcapApplication::from_env(&env).unwrap().unwrap();
    assert_eq!(app.application_name.as_deref(), Some("myapp"));

    let cases: &[(&str, &str)] = &[
        ("[]", "VCAP_APPLICATION: top level: expected an object"),
        (
            r#"{"application_name": 1}"#,
            "VCAP_APPLICATION: application_name: expected a string",
        ),
        (
            r#"{"uris": "x"}"#,
            "VCAP_APPLICATION: uris: expected an array",
        ),
        (
            r#"{"limits": {"mem": "512M"}}"#,
            "VCAP_APPLICATION: limits.mem: expected a non-negative integer",
        ),
        (
            "{",
            "VCAP_APPLICATION: malformed JSON at line 1, column 1: EOF while parsing an object",
        ),
    ];
    for (json, expected) in cases {
        let env = Env::from_pairs([(vars::VCAP_APPLICATION, *json)]);
        let got = VcapApplication::from_env(&env).unwrap_err().to_string();
        assert_eq!(got, *expected, "{json}");
    }
}

#[test]
fn variable_list_is_complete() {
    assert_eq!(
        vars::ALL,
        [
            "VCAP_SERVICES",
            "VCAP_SERVICES_FILE_PATH",
            "VCAP_APPLICATION",
            "PORT",
            "CF_INSTANCE_PORT"
        ]
    );
}
