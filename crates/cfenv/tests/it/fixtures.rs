//! Every fixture parses (or fails as intended) and survives parse → `to_json` → parse.

use cfenv::{Error, Problem, Vcap, VcapApplication};

use crate::common::{fixture, fixture_path, vcap};

const GOOD: &[&str] = &[
    "vcap_services.json",
    "vcap_services_x509.json",
    // These are broken only for the typed stage; the raw document is fine.
    "broken_no_credentials.json",
    "broken_credstore_no_url.json",
    "broken_two_xsuaa.json",
];

#[test]
fn every_good_fixture_parses_and_round_trips() {
    for name in GOOD {
        let first = vcap(name);
        assert!(!first.instances().is_empty(), "{name}");
        let json = first.to_json();
        let second = Vcap::from_json(&json, "VCAP_SERVICES").unwrap();
        assert_eq!(second, first, "{name}");
        // And the written text is stable.
        assert_eq!(second.to_json(), json, "{name}");
    }
}

#[test]
fn numbers_beyond_the_integers_round_trip() {
    // serde_json's default float parser is not correctly rounded: `-118446744073709551615`
    // is read as an f64, written as `-1.1844674407370955e+20` and read back one unit lower, so
    // the document changed on the round trip (found by `cargo xtask soak`, target `vcap`). The
    // workspace turns on serde_json's `float_roundtrip`.
    let text = r#"{"xsuaa":[{"label":"xsuaa","name":"x","provider":-118446744073709551615,
        "credentials":{"a":21193189223372036854775807512609455783,"b":0.1,"c":1.7976931348623157e308}}]}"#;
    let first = Vcap::from_json(text, "VCAP_SERVICES").unwrap();
    let second = Vcap::from_json(&first.to_json(), "VCAP_SERVICES").unwrap();
    assert_eq!(second, first);
    assert_eq!(second.to_json(), first.to_json());
}

#[test]
fn round_trip_keeps_every_key_as_json() {
    // Compare as JSON values: all keys survive, including ones the model ignores
    // (provider, instance_guid, volume_mounts, credentials.parameters, …).
    let original: serde_json::Value = serde_json::from_str(&fixture("vcap_services.json")).unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&vcap("vcap_services.json").to_json()).unwrap();
    assert_eq!(written, original);
}

#[test]
fn round_trip_keeps_top_level_order() {
    let json = vcap("vcap_services.json").to_json();
    let positions: Vec<usize> = [
        "\"xsuaa\":",
        "\"credstore\":",
        "\"privatelink\":",
        "\"user-provided\":",
        "\"postgresql-db\":",
    ]
    .iter()
    .map(|key| json.find(key).unwrap())
    .collect();
    assert!(positions.is_sorted(), "{positions:?}");
}

#[test]
fn spec_document_lists_instances_in_document_order() {
    let vcap = vcap("vcap_services.json");
    let got: Vec<(&str, &str, Option<&str>)> = vcap
        .instances()
        .iter()
        .map(|i| (i.label.as_str(), i.name.as_str(), i.plan.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("xsuaa", "myapp-uaa", Some("application")),
            ("credstore", "myapp-credstore", Some("standard")),
            ("privatelink", "myapp-s3-pl", Some("standard")),
            ("user-provided", "aws-config", None),
            ("postgresql-db", "myapp-db", Some("standard")),
        ]
    );
    let up = &vcap.instances()[3];
    assert_eq!(up.tags, ["aws"]);
    assert_eq!(up.instance_name.as_deref(), Some("aws-config"));
    assert_eq!(up.binding_name, None);
    assert_eq!(up.extra()["syslog_drain_url"], "");
}

#[test]
fn summary_names_fields_without_values() {
    let summary = vcap("vcap_services.json").summary();
    assert_eq!(summary.len(), 5);
    let pl = &summary[2];
    assert_eq!(
        (pl.label.as_str(), pl.name.as_str(), pl.plan.as_deref()),
        ("privatelink", "myapp-s3-pl", Some("standard"))
    );
    assert_eq!(pl.credential_fields, ["hostname"]);
    assert_eq!(
        summary[2].to_string(),
        "myapp-s3-pl (label privatelink, plan standard, tags []): credentials {hostname}"
    );
    let cs = summary[1].to_string();
    assert!(cs.contains("password"), "{cs}");
    assert!(!cs.contains("mCjH5fkExamplePassword"), "{cs}");
}

#[test]
fn malformed_json_reports_position_only() {
    let error = Vcap::from_json(&fixture("broken_malformed.json"), "VCAP_SERVICES").unwrap_err();
    assert!(
        matches!(
            error,
            Error::Json {
                line: 7,
                column: 7,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "VCAP_SERVICES: malformed JSON at line 7, column 7: expected `,` or `}`"
    );
}

#[test]
fn malformed_json_variants() {
    let cases: &[(&str, &str)] = &[
        (
            "",
            "VCAP_SERVICES: malformed JSON at line 1, column 0: EOF while parsing a value",
        ),
        (
            "{",
            "VCAP_SERVICES: malformed JSON at line 1, column 1: EOF while parsing an object",
        ),
        (
            "{} x",
            "VCAP_SERVICES: malformed JSON at line 1, column 4: trailing characters",
        ),
        (
            r#"{"a": "unterminated"#,
            "VCAP_SERVICES: malformed JSON at line 1, column 19: EOF while parsing a string",
        ),
    ];
    for (json, want) in cases {
        let got = Vcap::from_json(json, "VCAP_SERVICES")
            .unwrap_err()
            .to_string();
        assert_eq!(got, *want, "{json:?}");
    }
}

#[test]
fn binding_without_credentials_fails_in_the_typed_stage() {
    let vcap = vcap("broken_no_credentials.json");
    assert!(vcap.instances()[0].credential_fields().is_empty());
    assert!(vcap.instances()[0].expose_credentials().is_none());
    let error = vcap.xsuaa(None).unwrap_err();
    assert_eq!(error.problem(), Some(&Problem::Missing));
    assert_eq!(
        error.to_string(),
        "VCAP_SERVICES: service instance `myapp-uaa` (label `xsuaa`): credentials: missing"
    );
}

#[test]
fn credstore_without_url_names_the_field() {
    let error = vcap("broken_credstore_no_url.json")
        .credstore(None)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "VCAP_SERVICES: service instance `myapp-credstore` (label `credstore`): credentials.url: missing"
    );
}

#[test]
fn two_xsuaa_instances_are_ambiguous() {
    let error = vcap("broken_two_xsuaa.json").xsuaa(None).unwrap_err();
    assert!(matches!(error, Error::Ambiguous { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "VCAP_SERVICES: 2 service instances with label `xsuaa` or tag `xsuaa`: \
         `myapp-uaa` (xsuaa), `myapp-uaa-broker` (xsuaa); pass the instance name to choose one"
    );
}

#[test]
fn vcap_application_parses_and_round_trips() {
    let app =
        VcapApplication::from_json(&fixture("vcap_application.json"), "VCAP_APPLICATION").unwrap();
    assert_eq!(app.application_name.as_deref(), Some("myapp"));
    assert_eq!(app.space_name.as_deref(), Some("dev"));
    assert_eq!(app.organization_name.as_deref(), Some("acme"));
    assert_eq!(
        app.cf_api.as_deref(),
        Some("https://api.cf.eu10.hana.ondemand.com")
    );
    assert_eq!(
        app.application_uris,
        ["acme-dev-myapp.cfapps.eu10.hana.ondemand.com"]
    );
    assert_eq!(app.limits.as_ref().and_then(|l| l.mem), Some(512));
    let again = VcapApplication::from_json(&app.to_json(), "VCAP_APPLICATION").unwrap();
    assert_eq!(again, app);
}

#[test]
fn from_file_reads_a_fixture_and_names_the_path_in_errors() {
    let path = fixture_path("vcap_services.json");
    assert_eq!(Vcap::from_file(&path).unwrap(), vcap("vcap_services.json"));

    let broken = fixture_path("broken_credstore_no_url.json");
    let error = Vcap::from_file(&broken)
        .unwrap()
        .credstore(None)
        .unwrap_err();
    assert_eq!(error.origin(), Some(broken.display().to_string().as_str()));
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: ", broken.display()))
    );
}

#[test]
fn round_trip_keeps_how_empty_keys_were_written() {
    // Hand-written documents: label left out, empty or null keys, no tags at all.
    let cases = [
        r#"{"xsuaa":[{"name":"a"}]}"#,
        r#"{"xsuaa":[{"name":"a","label":"","plan":"","tags":null,"binding_name":null,"credentials":null}]}"#,
        r#"{"x":[{"name":"a","label":"other","tags":[],"instance_name":"","credentials":{}}]}"#,
        r#"{"empty":[],"y":[{"name":"b","volume_mounts":[],"provider":null}]}"#,
    ];
    for json in cases {
        let vcap = Vcap::from_json(json, "VCAP_SERVICES").unwrap();
        let written: serde_json::Value = serde_json::from_str(&vcap.to_json()).unwrap();
        let mut original: serde_json::Value = serde_json::from_str(json).unwrap();
        // An empty group has no instance to keep it; it is the one thing not written back.
        original.as_object_mut().unwrap().remove("empty");
        assert_eq!(written, original, "{json}");
        assert_eq!(
            Vcap::from_json(&vcap.to_json(), "VCAP_SERVICES").unwrap(),
            vcap
        );
    }
}

#[test]
fn built_documents_look_like_cloud_foundry_ones() {
    let credentials = serde_json::json!({ "hostname": "*.vpce-1.s3.eu-central-1.localhost" });
    let vcap = Vcap::new(vec![
        cfenv::ServiceInstance::new("privatelink", "pl")
            .with_plan("standard")
            .with_credentials(credentials.as_object().unwrap().clone()),
        cfenv::ServiceInstance::new("user-provided", "cfg").with_tags(["aws"]),
    ]);
    let written: serde_json::Value = serde_json::from_str(&vcap.to_json()).unwrap();
    assert_eq!(
        written,
        serde_json::json!({
            "privatelink": [{ "label": "privatelink", "name": "pl", "instance_name": "pl",
                              "binding_name": null, "plan": "standard", "tags": [],
                              "credentials": credentials }],
            "user-provided": [{ "label": "user-provided", "name": "cfg", "instance_name": "cfg",
                                "binding_name": null, "tags": ["aws"], "credentials": {} }],
        })
    );
    assert_eq!(vcap.privatelink(None).unwrap().instance_name, "pl");
}
