//! The S3 client's endpoint, addressing and checksum settings, checked offline through
//! presigned URLs (presigning resolves the endpoint and signs exactly as a request would,
//! without sending anything).

use std::time::Duration;

use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::presigning::PresigningConfig;
use awslink::{AssumeRoleRequest, AwsSettings, RefreshOptions, RoleCredentials, Timeouts};
use serde_json::json;

use crate::common::{FakeSts, minimal_config, vcap_with};

const PL_HOST: &str = "vpce-068c84244a1b70734-r9rznuj8.s3.eu-central-1.vpce.amazonaws.com";

fn client(settings: &AwsSettings) -> aws_sdk_s3::Client {
    let creds = RoleCredentials::new(
        FakeSts::new(Duration::from_secs(3600), Duration::ZERO),
        AssumeRoleRequest::from_settings(settings),
        RefreshOptions::default(),
    );
    awslink::s3::s3_client(
        settings,
        creds,
        awslink::http_client(&[], &[]).unwrap(),
        Timeouts::S3,
    )
}

async fn presigned_get(settings: &AwsSettings, bucket: &str) -> String {
    client(settings)
        .get_object()
        .bucket(bucket)
        .key("docs/a b.pdf")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_owned()
}

fn settings(config: serde_json::Value, with_private_link: bool) -> AwsSettings {
    let host = format!("*.{PL_HOST}");
    let links: &[(&str, &str)] = if with_private_link {
        &[("myapp-s3-pl", &host)]
    } else {
        &[]
    };
    AwsSettings::from_vcap(&vcap_with(config, links), None).unwrap()
}

#[tokio::test]
async fn private_link_is_virtual_hosted_under_the_bucket_endpoint() {
    testkit::logs::init();
    let uri = presigned_get(&settings(minimal_config(), true), "acme-data").await;
    assert!(
        uri.starts_with(&format!(
            "https://acme-data.bucket.{PL_HOST}/docs/a%20b.pdf?"
        )),
        "{uri}"
    );
    // Signed for the configured region and S3.
    assert!(uri.contains("%2Feu-central-1%2Fs3%2Faws4_request"), "{uri}");
    assert!(uri.contains("X-Amz-Security-Token="), "{uri}");
}

#[tokio::test]
async fn private_link_with_force_path_style() {
    testkit::logs::init();
    let mut config = minimal_config();
    config["forcePathStyle"] = json!(true);
    let uri = presigned_get(&settings(config, true), "acme.data").await;
    assert!(
        uri.starts_with(&format!(
            "https://bucket.{PL_HOST}/acme.data/docs/a%20b.pdf?"
        )),
        "{uri}"
    );
}

#[tokio::test]
async fn an_s3_endpoint_is_path_style() {
    testkit::logs::init();
    let mut config = minimal_config();
    config["s3Endpoint"] = json!("http://localhost:9000");
    let uri = presigned_get(&settings(config, true), "acme-data").await;
    assert!(
        uri.starts_with("http://localhost:9000/acme-data/docs/a%20b.pdf?"),
        "{uri}"
    );
}

#[tokio::test]
async fn without_an_endpoint_it_is_aws_regional() {
    testkit::logs::init();
    let uri = presigned_get(&settings(minimal_config(), false), "acme-data").await;
    assert!(
        uri.starts_with("https://acme-data.s3.eu-central-1.amazonaws.com/docs/a%20b.pdf?"),
        "{uri}"
    );
}

#[tokio::test]
async fn checksums_only_when_required() {
    testkit::logs::init();
    for s in [
        settings(minimal_config(), true),
        settings(
            json!({"region": "eu-central-1",
                        "roleArn": "arn:aws:iam::123456789012:role/btp-s3-access",
                        "s3Endpoint": "https://s3.local.example:8443"}),
            false,
        ),
    ] {
        let config = client(&s).config().clone();
        assert_eq!(
            config.request_checksum_calculation(),
            Some(&RequestChecksumCalculation::WhenRequired)
        );
        assert_eq!(
            config.response_checksum_validation(),
            Some(&ResponseChecksumValidation::WhenRequired)
        );
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-central-1"));
    }
}
