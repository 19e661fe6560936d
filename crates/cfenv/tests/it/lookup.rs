//! Selecting one instance: by name, else by label, else by tag; none and ambiguity.

use cfenv::{ServiceKind, Vcap};
use serde_json::json;

use crate::common::{doc, outcome, vcap};

/// One lookup case: `find(kind, name)` gives the instance name, or the error message.
fn check(vcap: &Vcap, kind: ServiceKind, name: Option<&str>, expected: &str) {
    let got = outcome(vcap.find(kind, name), |i| i.name.clone());
    assert_eq!(got, expected, "find({kind:?}, {name:?})");
}

#[test]
fn spec_document() {
    let v = vcap("vcap_services.json");
    let cases: &[(ServiceKind, Option<&str>, &str)] = &[
        (ServiceKind::Xsuaa, None, "Ok(myapp-uaa)"),
        (ServiceKind::CredStore, None, "Ok(myapp-credstore)"),
        (ServiceKind::PrivateLink, None, "Ok(myapp-s3-pl)"),
        (ServiceKind::Postgres, None, "Ok(myapp-db)"),
        (ServiceKind::UserProvided, None, "Ok(aws-config)"),
        // A name wins, whatever the label: as @sap/xsenv's string query.
        (ServiceKind::Xsuaa, Some("myapp-uaa"), "Ok(myapp-uaa)"),
        (ServiceKind::Xsuaa, Some("aws-config"), "Ok(aws-config)"),
        (
            ServiceKind::Xsuaa,
            Some("nope"),
            "VCAP_SERVICES: no service instance named `nope` is bound; bound instances: \
             `myapp-uaa` (xsuaa), `myapp-credstore` (credstore), `myapp-s3-pl` (privatelink), \
             `aws-config` (user-provided), `myapp-db` (postgresql-db)",
        ),
    ];
    for (kind, name, expected) in cases {
        check(&v, *kind, *name, expected);
    }
}

#[test]
fn label_then_tag_then_nothing() {
    let creds = json!({});
    // Only a user-provided stand-in tagged `xsuaa`: found by tag.
    let by_tag = doc(&[
        ("user-provided", "fake-uaa", &["xsuaa"], creds.clone()),
        ("user-provided", "other", &[], creds.clone()),
    ]);
    // A real xsuaa plus a tagged stand-in: the label stage wins, the tag is never consulted.
    let label_wins = doc(&[
        ("xsuaa", "real-uaa", &["xsuaa"], creds.clone()),
        ("user-provided", "fake-uaa", &["xsuaa"], creds.clone()),
    ]);
    // Two tagged stand-ins and no label match: ambiguous at the tag stage.
    let two_tags = doc(&[
        ("user-provided", "fake-1", &["xsuaa"], creds.clone()),
        (
            "user-provided",
            "fake-2",
            &["xsuaa", "other"],
            creds.clone(),
        ),
    ]);
    // PostgreSQL: `postgresql` and `postgres` tags count; `relational` does not (HANA has it).
    let pg = doc(&[
        (
            "hana",
            "my-hana",
            &["hana", "database", "relational"],
            creds.clone(),
        ),
        ("user-provided", "my-pg", &["postgres"], creds.clone()),
    ]);
    let hana_only = doc(&[(
        "hana",
        "my-hana",
        &["hana", "database", "relational"],
        creds.clone(),
    )]);
    let empty = Vcap::from_json("{}", "VCAP_SERVICES").unwrap();

    let cases: &[(&Vcap, ServiceKind, Option<&str>, &str)] = &[
        (&by_tag, ServiceKind::Xsuaa, None, "Ok(fake-uaa)"),
        (
            &by_tag,
            ServiceKind::UserProvided,
            None,
            "VCAP_SERVICES: 2 service instances with label `user-provided`: \
             `fake-uaa` (user-provided), `other` (user-provided); pass the instance name to choose one",
        ),
        (
            &by_tag,
            ServiceKind::UserProvided,
            Some("other"),
            "Ok(other)",
        ),
        (&label_wins, ServiceKind::Xsuaa, None, "Ok(real-uaa)"),
        (
            &label_wins,
            ServiceKind::Xsuaa,
            Some("fake-uaa"),
            "Ok(fake-uaa)",
        ),
        (
            &two_tags,
            ServiceKind::Xsuaa,
            None,
            "VCAP_SERVICES: 2 service instances with label `xsuaa` or tag `xsuaa`: \
             `fake-1` (user-provided), `fake-2` (user-provided); pass the instance name to choose one",
        ),
        (&two_tags, ServiceKind::Xsuaa, Some("fake-2"), "Ok(fake-2)"),
        (&pg, ServiceKind::Postgres, None, "Ok(my-pg)"),
        (
            &hana_only,
            ServiceKind::Postgres,
            None,
            "VCAP_SERVICES: no service instance with label `postgresql-db` or tag `postgresql` \
             or `postgres` is bound; bound instances: `my-hana` (hana)",
        ),
        (
            &empty,
            ServiceKind::CredStore,
            None,
            "VCAP_SERVICES: no service instance with label `credstore` or tag `credstore` is \
             bound; no service instances are bound at all",
        ),
        (
            &empty,
            ServiceKind::PrivateLink,
            Some("x"),
            "VCAP_SERVICES: no service instance named `x` is bound; no service instances are bound at all",
        ),
    ];
    for (vcap, kind, name, expected) in cases {
        check(vcap, *kind, *name, expected);
    }
}

#[test]
fn duplicate_names_are_ambiguous() {
    let v = doc(&[
        ("user-provided", "same", &[], json!({})),
        ("credstore", "same", &[], json!({})),
    ]);
    check(
        &v,
        ServiceKind::CredStore,
        Some("same"),
        "VCAP_SERVICES: 2 service instances named `same`: `same` (user-provided), \
         `same` (credstore); pass the instance name to choose one",
    );
}

#[test]
fn raw_and_user_provided_go_by_name() {
    let v = vcap("vcap_services.json");
    assert_eq!(v.raw("myapp-db").unwrap().label, "postgresql-db");
    assert!(v.raw("missing").is_err());
    let up = v.user_provided("aws-config").unwrap();
    assert_eq!(up.instance_name, "aws-config");
    assert!(v.user_provided("missing").is_err());
}

#[test]
fn service_kind_labels_and_tags() {
    let got: Vec<(&str, Option<&str>)> = ServiceKind::ALL
        .iter()
        .map(|k| (k.label(), k.tag()))
        .collect();
    assert_eq!(
        got,
        [
            ("xsuaa", Some("xsuaa")),
            ("credstore", Some("credstore")),
            ("privatelink", Some("privatelink")),
            ("postgresql-db", Some("postgresql")),
            ("user-provided", None),
            ("alert-notification", Some("alert-notification")),
        ]
    );
    assert_eq!(ServiceKind::Postgres.tags(), ["postgresql", "postgres"]);
    assert_eq!(ServiceKind::CredStore.to_string(), "credstore");
}

#[test]
fn alert_notification_binding_reads_oauth_credentials_and_hides_the_secret() {
    let v = cfenv::Vcap::from_json(
        r#"{"alert-notification": [{"label": "alert-notification", "name": "bridge-alerts",
            "plan": "standard", "tags": ["alert-notification"],
            "credentials": {"url": "https://clm-sl-ans-live-ans-service-api.cfapps.eu10.hana.ondemand.com",
              "client_id": "sb-ans-client", "client_secret": "ans-s3cret-value",
              "oauth_url": "https://sub.authentication.eu10.hana.ondemand.com/oauth/token?grant_type=client_credentials"}}]}"#,
        "test",
    )
    .unwrap();
    let b = v.alert_notification(None).unwrap();
    assert_eq!(b.instance_name, "bridge-alerts");
    assert_eq!(b.client_id, "sb-ans-client");
    assert_eq!(b.client_secret.expose(), "ans-s3cret-value");
    assert_eq!(b.oauth_url.query(), Some("grant_type=client_credentials"));
    assert!(!format!("{b:?}").contains("ans-s3cret-value"));
    let missing = cfenv::Vcap::from_json(
        r#"{"alert-notification": [{"label": "alert-notification", "name": "a", "tags": [],
            "credentials": {"url": "https://x.example", "client_id": "c", "oauth_url": "https://y.example/oauth/token"}}]}"#,
        "test",
    )
    .unwrap();
    let err = missing.alert_notification(None).unwrap_err().to_string();
    assert!(err.contains("client_secret"), "{err}");
}
