//! The real clients against moto (`moto_server` from `.tools/python`), a second
//! implementation of STS and S3: `RoleCredentials` assumes a role through aws-sdk-sts with
//! long-term keys from an in-memory Credential Store, and the S3 client built by
//! `awslink::s3` creates a bucket, lists buckets, and puts and gets an object with path-style
//! addressing. Once over plain http, once over https with a private CA as extra root.
//!
//! moto does not check signatures, so these tests prove the wire protocol and the wiring
//! (which endpoint, which credentials reach which client), not IAM.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use awslink::{AwsLink, AwsSettings, Error, LinkOptions, LongTermKeys, Timeouts};
use credstore::memory::InMemoryStore;
use credstore::{CredentialStore, CredentialType, NewCredential, WriteMode};
use serde_json::json;

use crate::common::{Moto, vcap_with};

pub(crate) const REGION: &str = "eu-central-1";
const ROLE: &str = "arn:aws:iam::123456789012:role/btp-s3-access";

pub(crate) fn settings(endpoint: &str) -> AwsSettings {
    let config = json!({
        "region": REGION,
        "roleArn": ROLE,
        "roleSessionName": "btp-it",
        "externalId": "btp-external-id",
        "sessionDurationSeconds": 900,
        "stsEndpoint": endpoint,
        "s3Endpoint": endpoint,
        "bucket": "acme-data",
    });
    AwsSettings::from_vcap(&vcap_with(config, &[]), None).unwrap()
}

/// Long-term keys in an in-memory Credential Store, the secret registered for the scan.
pub(crate) async fn keys() -> LongTermKeys {
    let secret = testkit::logs::secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYMOTOKEY01");
    let store = Arc::new(InMemoryStore::default());
    store
        .write(
            CredentialType::Password,
            "aws",
            &NewCredential::new("aws-iam-user", secret).with_username("AKIAIOSFODNN7MOTO001"),
            WriteMode::Upsert,
        )
        .await
        .unwrap();
    LongTermKeys::new(store, "aws", "aws-iam-user")
}

pub(crate) fn options(extra_roots_pem: Vec<Vec<u8>>) -> LinkOptions {
    LinkOptions {
        extra_roots_pem,
        // Short, so a broken set-up fails fast.
        sts_timeouts: Timeouts {
            connect: Duration::from_secs(3),
            attempt: Duration::from_secs(10),
            operation: Duration::from_secs(20),
        },
        s3_timeouts: Timeouts {
            connect: Duration::from_secs(3),
            attempt: Duration::from_secs(20),
            operation: Duration::from_secs(40),
        },
        resolve: Vec::new(),
    }
}

/// Assumes the role and checks what STS (moto) handed out.
async fn assume(link: &AwsLink) {
    let creds = link.credentials.credentials().await.unwrap();
    testkit::logs::secret(creds.secret_access_key());
    testkit::logs::secret(creds.session_token().unwrap());
    assert!(creds.access_key_id().starts_with("ASIA"), "{creds:?}");
    let left = creds
        .expiry()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        left > Duration::from_secs(800) && left <= Duration::from_secs(900),
        "{left:?}"
    );
    assert_eq!(creds.account_id().map(|a| a.as_str()), Some("123456789012"));
    assert_eq!(link.credentials.refreshes(), 1);
}

/// CreateBucket, ListBuckets, PutObject, GetObject through the link's S3 client.
async fn s3_round_trip(link: &AwsLink, bucket: &str) {
    let s3 = &link.s3;
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuCentral1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(
        buckets.buckets().iter().any(|b| b.name() == Some(bucket)),
        "{buckets:?}"
    );
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    s3.put_object()
        .bucket(bucket)
        .key("docs/2026/report one.bin")
        .content_type("application/octet-stream")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("docs/2026/report one.bin")
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.len(), body.len());
    assert!(bytes[..] == body[..], "the object came back changed");
    // Every S3 call took its credentials from the one cache: still one AssumeRole.
    assert_eq!(link.credentials.refreshes(), 1);
    assert_eq!(link.credentials.failures(), 0);
}

#[tokio::test]
async fn sts_and_s3_against_moto_over_http() {
    testkit::logs::init();
    let moto = Moto::start().await;
    let settings = settings(&moto.url);
    assert!(settings.path_style());
    let link = AwsLink::new(settings, keys().await, &options(Vec::new())).unwrap();
    assert_eq!(link.credentials.expiry(), None, "no call before first use");
    assume(&link).await;

    // An SDK client with our provider signs with the temporary credentials: moto answers
    // GetCallerIdentity with the assumed role's session.
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .endpoint_url(&moto.url)
            .http_client(awslink::http_client(&[], &[]).unwrap())
            .credentials_provider(link.credentials.clone())
            .build(),
    );
    let me = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::123456789012:assumed-role/btp-s3-access/btp-it"),
        "{}",
        moto.log()
    );

    s3_round_trip(&link, "acme-data").await;
}

#[tokio::test]
async fn sts_and_s3_over_https_with_an_extra_root() {
    testkit::logs::init();
    let (ca_pem, cert_pem, key_pem) = test_ca();
    let moto = Moto::start_tls(&cert_pem, &key_pem).await;
    let url = moto.url.replace("localhost", "127.0.0.1");

    // Without the CA the handshake fails: an outage-type error naming the endpoint.
    let link = AwsLink::new(settings(&url), keys().await, &options(Vec::new())).unwrap();
    let err = link.credentials.credentials().await.unwrap_err();
    assert!(matches!(err, Error::StsUnreachable { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(err.to_string().contains(&url), "{err}");

    // With it, everything works.
    let link = AwsLink::new(
        settings(&url),
        keys().await,
        &options(vec![ca_pem.into_bytes()]),
    )
    .unwrap();
    assert_eq!(link.settings.s3_endpoint.url().unwrap().scheme(), "https");
    assert_eq!(
        link.settings.sts_endpoint.as_ref().unwrap().scheme(),
        "https"
    );
    assume(&link).await;
    s3_round_trip(&link, "acme-secure").await;
}

/// A CA and a server certificate for 127.0.0.1 and localhost: (CA PEM, cert PEM, key PEM).
fn test_ca() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "awslink test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, &ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    (
        ca_cert.pem(),
        cert.pem(),
        testkit::logs::secret(key.serialize_pem()),
    )
}
