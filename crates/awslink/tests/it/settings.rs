//! `AwsSettings::from_vcap`: the sample VCAP document, defaults, Private Link selection,
//! and errors that name the instance and the field but never a value.

use std::time::Duration;

use awslink::{AwsSettings, Error, S3Endpoint};
use serde_json::{Value, json};

use crate::common::{minimal_config, spec_vcap, vcap_with};

#[test]
fn reads_the_spec_document() {
    let s = AwsSettings::from_vcap(&spec_vcap(), None).unwrap();
    assert_eq!(s.config_instance, "aws-config");
    assert_eq!(s.region, "eu-central-1");
    assert_eq!(s.role_arn, "arn:aws:iam::123456789012:role/btp-s3-access");
    assert_eq!(s.role_session_name, "btp-myapp");
    assert_eq!(s.bucket.as_deref(), Some("acme-data"));
    assert_eq!(
        s.sts_endpoint.as_ref().map(url::Url::as_str),
        Some("https://sts.eu-central-1.amazonaws.com/")
    );
    assert_eq!(
        (s.credstore_namespace.as_str(), s.credstore_name.as_str()),
        ("aws", "aws-iam-user")
    );
    assert_eq!(s.session_duration, Duration::from_secs(3600));
    assert_eq!(s.refresh_margin, Duration::from_secs(300));
    assert_eq!(s.external_id, None);
    // The one privatelink binding, wildcard stripped, `bucket.` prefixed.
    assert_eq!(
        s.s3_endpoint,
        S3Endpoint::PrivateLink {
            instance: "myapp-s3-pl".into(),
            url:
                "https://bucket.vpce-068c84244a1b70734-r9rznuj8.s3.eu-central-1.vpce.amazonaws.com"
                    .parse()
                    .unwrap(),
        }
    );
    assert!(!s.path_style(), "Private Link is virtual-hosted by default");
}

#[test]
fn defaults_for_a_minimal_config() {
    let s = AwsSettings::from_vcap(&vcap_with(minimal_config(), &[]), None).unwrap();
    assert_eq!(s.role_session_name, "btp-aws-bridge");
    assert_eq!(s.credstore_namespace, "aws");
    assert_eq!(s.credstore_name, "aws-iam-user");
    assert_eq!(s.session_duration, Duration::from_secs(3600));
    assert_eq!(s.refresh_margin, Duration::from_secs(300));
    assert_eq!(s.bucket, None);
    assert_eq!(s.sts_endpoint, None);
    assert_eq!(s.force_path_style, None);
    assert_eq!(s.s3_endpoint, S3Endpoint::AwsDefault);
    assert!(!s.path_style());
}

#[test]
fn every_key() {
    let config = json!({
        "region": "eu-west-1",
        "roleArn": "arn:aws:iam::210987654321:role/team/btp",
        "roleSessionName": "bridge@eu.1",
        "externalId": "ext-4711:abc/def",
        "sessionDurationSeconds": "7200",
        "refreshMarginSeconds": 600,
        "bucket": "acme.docs",
        "stsEndpoint": "http://127.0.0.1:5000",
        "s3Endpoint": "http://127.0.0.1:9000/",
        "forcePathStyle": "false",
        "credstoreNamespace": "aws-prod",
        "credstoreName": "iam-user-2",
        "description": "written by ops",
    });
    let s = AwsSettings::from_vcap(
        &vcap_with(
            config,
            &[("pl", "*.vpce-1-a.s3.eu-west-1.vpce.amazonaws.com")],
        ),
        None,
    )
    .unwrap();
    assert_eq!(s.region, "eu-west-1");
    assert_eq!(s.role_session_name, "bridge@eu.1");
    assert_eq!(s.external_id.as_deref(), Some("ext-4711:abc/def"));
    assert_eq!(s.session_duration, Duration::from_secs(7200));
    assert_eq!(s.refresh_margin, Duration::from_secs(600));
    assert_eq!(s.bucket.as_deref(), Some("acme.docs"));
    assert_eq!(
        s.sts_endpoint.as_ref().unwrap().as_str(),
        "http://127.0.0.1:5000/"
    );
    // The explicit endpoint wins over the bound privatelink instance.
    assert_eq!(
        s.s3_endpoint,
        S3Endpoint::Custom("http://127.0.0.1:9000".parse().unwrap())
    );
    assert_eq!(s.force_path_style, Some(false));
    assert!(!s.path_style());
    assert_eq!(
        (s.credstore_namespace.as_str(), s.credstore_name.as_str()),
        ("aws-prod", "iam-user-2")
    );
}

#[test]
fn s3_endpoint_is_path_style_by_default() {
    let mut config = minimal_config();
    config["s3Endpoint"] = json!("https://localhost:8443");
    let s = AwsSettings::from_vcap(&vcap_with(config.clone(), &[]), None).unwrap();
    assert!(s.path_style());
    config["forcePathStyle"] = json!(false);
    assert!(
        !AwsSettings::from_vcap(&vcap_with(config, &[]), None)
            .unwrap()
            .path_style()
    );

    let mut config = minimal_config();
    config["forcePathStyle"] = json!(true);
    let s = AwsSettings::from_vcap(
        &vcap_with(
            config,
            &[("pl", "*.vpce-1-a.s3.eu-central-1.vpce.amazonaws.com")],
        ),
        None,
    )
    .unwrap();
    assert!(matches!(s.s3_endpoint, S3Endpoint::PrivateLink { .. }));
    assert!(s.path_style());
}

#[test]
fn picks_the_named_privatelink_instance() {
    let links = [
        ("pl-a", "*.vpce-aaa-1.s3.eu-central-1.vpce.amazonaws.com"),
        ("pl-b", "*.vpce-bbb-2.s3.eu-central-1.vpce.amazonaws.com"),
    ];
    // Two bound and none named: ambiguous, and the error lists both.
    let err = AwsSettings::from_vcap(&vcap_with(minimal_config(), &links), None).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("pl-a") && text.contains("pl-b"), "{text}");

    let mut config = minimal_config();
    config["privatelinkInstance"] = json!("pl-b");
    let s = AwsSettings::from_vcap(&vcap_with(config, &links), None).unwrap();
    assert_eq!(
        s.s3_endpoint.url().unwrap().as_str(),
        "https://bucket.vpce-bbb-2.s3.eu-central-1.vpce.amazonaws.com/"
    );

    // Named but not bound.
    let mut config = minimal_config();
    config["privatelinkInstance"] = json!("pl-missing");
    let err = AwsSettings::from_vcap(&vcap_with(config, &links), None).unwrap_err();
    assert!(err.to_string().contains("pl-missing"), "{err}");
}

#[test]
fn a_local_privatelink_with_a_port() {
    let s = AwsSettings::from_vcap(
        &vcap_with(
            minimal_config(),
            &[("pl", "*.vpce-local.s3.eu-central-1.localhost:9443")],
        ),
        None,
    )
    .unwrap();
    assert_eq!(
        s.s3_endpoint.url().unwrap().as_str(),
        "https://bucket.vpce-local.s3.eu-central-1.localhost:9443/"
    );
}

#[test]
fn another_config_instance_name() {
    let doc = json!({"user-provided": [{"label": "user-provided", "name": "aws-prod", "tags": [],
                                        "credentials": minimal_config()}]});
    let vcap = cfenv::Vcap::from_json(&doc.to_string(), "VCAP_SERVICES").unwrap();
    assert_eq!(
        AwsSettings::from_vcap(&vcap, Some("aws-prod"))
            .unwrap()
            .config_instance,
        "aws-prod"
    );
    // The default name is not bound: the error says what is.
    let err = AwsSettings::from_vcap(&vcap, None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("aws-config") && text.contains("aws-prod"),
        "{text}"
    );
}

/// Each case: a change to the minimal config and the field the error must name.
#[test]
fn errors_name_the_instance_and_field() {
    let cases: &[(&str, Value, &str, &str)] = &[
        ("region", Value::Null, "credentials.region", "missing"),
        ("region", json!(""), "credentials.region", "empty"),
        (
            "region",
            json!(42),
            "credentials.region",
            "expected a string",
        ),
        (
            "region",
            json!("EU Central"),
            "credentials.region",
            "AWS region",
        ),
        ("roleArn", Value::Null, "credentials.roleArn", "missing"),
        (
            "roleArn",
            json!("arn:aws:iam::123456789012:user/bob"),
            "credentials.roleArn",
            "IAM role ARN",
        ),
        (
            "roleSessionName",
            json!("has space"),
            "credentials.roleSessionName",
            "no spaces",
        ),
        (
            "roleSessionName",
            json!("x"),
            "credentials.roleSessionName",
            "2 to 64",
        ),
        (
            "externalId",
            json!("a b"),
            "credentials.externalId",
            "no spaces",
        ),
        (
            "sessionDurationSeconds",
            json!(600),
            "credentials.sessionDurationSeconds",
            "between 900 and 43200",
        ),
        (
            "sessionDurationSeconds",
            json!(50_000),
            "credentials.sessionDurationSeconds",
            "between 900 and 43200",
        ),
        (
            "sessionDurationSeconds",
            json!("1h"),
            "credentials.sessionDurationSeconds",
            "whole number",
        ),
        (
            "sessionDurationSeconds",
            json!(-5),
            "credentials.sessionDurationSeconds",
            "whole number",
        ),
        (
            "refreshMarginSeconds",
            json!(1900),
            "credentials.refreshMarginSeconds",
            "half of sessionDurationSeconds",
        ),
        (
            "refreshMarginSeconds",
            json!(true),
            "credentials.refreshMarginSeconds",
            "whole number",
        ),
        (
            "bucket",
            json!("Acme_Data"),
            "credentials.bucket",
            "bucket name",
        ),
        (
            "stsEndpoint",
            json!("sts.example.com"),
            "credentials.stsEndpoint",
            "not a valid URL",
        ),
        (
            "stsEndpoint",
            json!("https://sts.example.com/prefix"),
            "credentials.stsEndpoint",
            "must not have a path",
        ),
        (
            "s3Endpoint",
            json!("ftp://files.example.com"),
            "credentials.s3Endpoint",
            "not a valid URL",
        ),
        (
            "s3Endpoint",
            json!("https://s3.example.com?x=1"),
            "credentials.s3Endpoint",
            "query",
        ),
        (
            "forcePathStyle",
            json!("yes"),
            "credentials.forcePathStyle",
            "true or false",
        ),
        (
            "credstoreNamespace",
            json!("has space"),
            "credentials.credstoreNamespace",
            "namespace",
        ),
        ("credstoreName", json!(""), "", ""),
        (
            "roleARN",
            json!("x"),
            "credentials.<unknown>",
            "unknown key `roleARN`",
        ),
    ];
    for (field, value, path, wording) in cases {
        let mut config = minimal_config();
        if value.is_null() {
            config.as_object_mut().unwrap().remove(*field);
        } else {
            config[*field] = value.clone();
        }
        let result = AwsSettings::from_vcap(&vcap_with(config, &[]), None);
        if path.is_empty() {
            // An empty optional string counts as absent: the default applies.
            assert_eq!(result.unwrap().credstore_name, "aws-iam-user");
            continue;
        }
        let err = result.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("aws-config"),
            "{field}: instance not named: {text}"
        );
        assert!(text.contains(path), "{field}: field not named: {text}");
        assert!(text.contains(wording), "{field}: wording: {text}");
        if let Some(s) = value.as_str()
            && s.len() > 3
            && *field != "roleARN"
        {
            assert!(
                !text.contains(s),
                "{field}: the value leaked into the error: {text}"
            );
        }
        assert!(
            matches!(err, Error::Vcap(_) | Error::Config { .. }),
            "{field}: {err:?}"
        );
    }
}

#[test]
fn s3_endpoint_and_privatelink_instance_exclude_each_other() {
    let mut config = minimal_config();
    config["s3Endpoint"] = json!("http://127.0.0.1:9000");
    config["privatelinkInstance"] = json!("pl");
    let err = AwsSettings::from_vcap(
        &vcap_with(
            config,
            &[("pl", "*.vpce-1-a.s3.eu-central-1.vpce.amazonaws.com")],
        ),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not both"), "{err}");
}

#[test]
fn a_broken_privatelink_binding_is_an_error_not_a_fallback() {
    let err = AwsSettings::from_vcap(
        &vcap_with(minimal_config(), &[("pl", "https://not-a-host-name")]),
        None,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("pl") && text.contains("credentials.hostname"),
        "{text}"
    );
}
