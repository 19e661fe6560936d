//! End to end against the dev stack: the generated `VCAP_SERVICES`, the long-term keys from the
//! local Credential Store, AssumeRole at the local STS and S3 calls on the local S3 through the
//! Private Link endpoint (virtual-hosted `<bucket>.bucket.vpce-dev.s3.<region>.localhost`,
//! resolved to 127.0.0.1 by `LinkOptions::resolve`), all over TLS with the dev CA.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use awslink::{AwsLink, AwsSettings, LinkOptions, LongTermKeys, S3Endpoint};
use cfenv::Vcap;
use devstack::aws_identity::ManualClock;
use devstack::{DevConfig, DevStack};

pub(crate) struct Local {
    pub(crate) dev: DevStack,
    clock: Arc<ManualClock>,
    pub(crate) link: AwsLink,
    _dir: tempfile::TempDir,
}

pub(crate) const BUCKET: &str = "bridge-documents";

pub(crate) async fn start() -> Local {
    start_with(|_| {}).await
}

async fn start_with(configure: impl FnOnce(&mut DevConfig)) -> Local {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = DevConfig::new(dir.path()).ephemeral();
    config.aws_clock = Some(clock.clone());
    configure(&mut config);
    let dev = DevStack::start(config).await.unwrap();
    let aws = dev.aws_identity();
    testkit::logs::secret(aws.user().secret_access_key.expose());
    testkit::logs::secret(aws.external_id().expose());
    if let Some(p) = dev.vcap_services()["credstore"][0]["credentials"]["password"].as_str() {
        testkit::logs::secret(p);
    }

    let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    let settings = AwsSettings::from_vcap(&vcap, None).unwrap();
    assert!(
        matches!(settings.s3_endpoint, S3Endpoint::PrivateLink { .. }),
        "{:?}",
        settings.s3_endpoint
    );
    let binding = vcap.credstore(None).unwrap();
    let store = credstore::Client::from_binding(
        &binding,
        &credstore::ClientOptions {
            extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
            ..credstore::ClientOptions::default()
        },
    )
    .unwrap();
    let keys = LongTermKeys::from_settings(Arc::new(store), &settings);
    let suffix = dev
        .private_link_host()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let options = LinkOptions {
        extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
        resolve: vec![(suffix, IpAddr::V4(Ipv4Addr::LOCALHOST))],
        ..LinkOptions::default()
    };
    let link = AwsLink::new(settings, keys, &options).unwrap();
    Local {
        dev,
        clock,
        link,
        _dir: dir,
    }
}

pub(crate) fn register(c: &aws_credential_types::Credentials) {
    testkit::logs::secret(c.secret_access_key());
    if let Some(t) = c.session_token() {
        testkit::logs::secret(t);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_calls_need_one_assume_role() {
    let l = start().await;
    let s3 = l.link.s3.clone();
    let next = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..16u32 {
        let s3 = s3.clone();
        let next = next.clone();
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= 1000 {
                    break;
                }
                let key = format!("load/{t}/{}.txt", i % 4);
                match i % 4 {
                    0 => {
                        s3.put_object()
                            .bucket(BUCKET)
                            .key(&key)
                            .body(ByteStream::from(format!("{t}-{i}").into_bytes()))
                            .send()
                            .await
                            .unwrap();
                    }
                    1 => {
                        s3.list_objects_v2()
                            .bucket(BUCKET)
                            .prefix(format!("load/{t}/"))
                            .send()
                            .await
                            .unwrap();
                    }
                    2 => {
                        s3.get_object()
                            .bucket(BUCKET)
                            .key("README.txt")
                            .send()
                            .await
                            .unwrap()
                            .body
                            .collect()
                            .await
                            .unwrap();
                    }
                    _ => {
                        s3.head_object()
                            .bucket(BUCKET)
                            .key("README.txt")
                            .send()
                            .await
                            .unwrap();
                    }
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert!(next.load(std::sync::atomic::Ordering::Relaxed) >= 1000);
    register(&l.link.credentials.credentials().await.unwrap());
    assert_eq!(l.dev.aws_identity().assume_role_count(), 1);
    l.dev.stop().await;
}

#[tokio::test]
async fn buckets_permissions_and_errors() {
    let l = start().await;
    let s3 = &l.link.s3;
    let buckets = s3.list_buckets().send().await.unwrap();
    register(&l.link.credentials.credentials().await.unwrap());
    let names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(names.contains(&"bridge-documents"), "{names:?}");
    assert!(names.contains(&"bridge-archive"), "{names:?}");

    let err = s3
        .put_object()
        .bucket("bridge-archive")
        .key("x.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    let err = s3.delete_bucket().bucket(BUCKET).send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");

    let err = s3
        .get_object()
        .bucket(BUCKET)
        .key("no/such/key")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchKey"), "{err:?}");
    l.dev.stop().await;
}

#[tokio::test]
async fn ranges_multipart_and_copy() {
    let l = start().await;
    let s3 = &l.link.s3;
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    s3.put_object()
        .bucket(BUCKET)
        .key("range.bin")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    register(&l.link.credentials.credentials().await.unwrap());
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("range.bin")
        .range("bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_range(), Some("bytes 100-199/100000"));
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..], &data[100..200]);

    let part_size = 5 * 1024 * 1024;
    let up = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("big.bin")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    let mut whole = Vec::new();
    for n in 1..=3 {
        let chunk = vec![n as u8; part_size];
        whole.extend_from_slice(&chunk);
        let p = s3
            .upload_part()
            .bucket(BUCKET)
            .key("big.bin")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(chunk))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    let done = s3
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key("big.bin")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-3\""),
        "{:?}",
        done.e_tag()
    );
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("big.bin")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert!(got[..] == whole[..], "multipart object differs");

    s3.copy_object()
        .bucket(BUCKET)
        .key("copy of range.bin")
        .copy_source(format!("{BUCKET}/range.bin"))
        .send()
        .await
        .unwrap();
    let copied = s3
        .get_object()
        .bucket(BUCKET)
        .key("copy of range.bin")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert!(copied[..] == data[..], "copy differs");
    l.dev.stop().await;
}

#[tokio::test]
async fn an_ended_session_is_expired_token() {
    let l = start().await;
    let creds = l.link.credentials.credentials().await.unwrap();
    register(&creds);
    // A client with these credentials fixed, so our refresh cannot hide the expiry.
    let config = l
        .link
        .s3
        .config()
        .to_builder()
        .credentials_provider(aws_credential_types::Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token().map(str::to_owned),
            None,
            "static",
        ))
        .build();
    let fixed = aws_sdk_s3::Client::from_conf(config);
    fixed
        .head_object()
        .bucket(BUCKET)
        .key("README.txt")
        .send()
        .await
        .unwrap();
    l.clock.advance(Duration::from_secs(3601));
    let err = fixed
        .get_object()
        .bucket(BUCKET)
        .key("README.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ExpiredToken"), "{err:?}");
    assert_eq!(err.message(), Some("The provided token has expired."));
    l.dev.stop().await;
}

/// Short-lived sessions against the real local STS and S3: the local STS issues sessions that
/// last 6 s of real time (a dev-stack test knob; AWS's minimum is 900 s) and the local S3
/// really refuses them after that. Calls keep flowing for 9 s; our cache must refresh ahead of
/// each expiry so that no call fails, and a client holding the first session's credentials
/// fixed must by then get `ExpiredToken`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_sessions_are_refreshed_before_they_expire() {
    let l = start_with(|c| {
        c.aws_clock = None;
        c.aws_session_lifetime = Some(Duration::from_secs(6));
    })
    .await;
    let settings = l.link.settings.clone();
    let vcap = Vcap::from_json(&l.dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    let store = credstore::Client::from_binding(
        &vcap.credstore(None).unwrap(),
        &credstore::ClientOptions {
            extra_roots_pem: vec![l.dev.ca_pem().as_bytes().to_vec()],
            ..credstore::ClientOptions::default()
        },
    )
    .unwrap();
    let keys = LongTermKeys::from_settings(Arc::new(store), &settings);
    let suffix = l
        .dev
        .private_link_host()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let http = awslink::http_client(
        &[l.dev.ca_pem().as_bytes().to_vec()],
        &[(suffix, IpAddr::V4(Ipv4Addr::LOCALHOST))],
    )
    .unwrap();
    let sts = awslink::StsAssumeRole::new(&settings, keys, http.clone(), awslink::Timeouts::STS);
    // A margin that fits 6-second sessions: refresh when less than 3 s are left.
    let creds = awslink::credentials::RoleCredentials::new(
        Arc::new(sts),
        awslink::credentials::AssumeRoleRequest::from_settings(&settings),
        awslink::credentials::RefreshOptions {
            refresh_margin: Duration::from_secs(3),
            expiry_buffer: Duration::from_secs(1),
            ..awslink::credentials::RefreshOptions::from_settings(&settings)
        },
    );
    let s3 = awslink::s3::s3_client(&settings, creds.clone(), http, awslink::Timeouts::S3);

    let first = creds.credentials().await.unwrap();
    register(&first);
    let before = l.dev.aws_identity().assume_role_count();
    let started = std::time::Instant::now();
    let mut calls = 0u32;
    while started.elapsed() < Duration::from_secs(9) {
        if let Err(e) = s3.list_objects_v2().bucket(BUCKET).max_keys(1).send().await {
            panic!(
                "call {calls} at {:?} failed: {:?}",
                started.elapsed(),
                e.code()
            );
        }
        calls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refreshes = l.dev.aws_identity().assume_role_count() - before;
    assert!(
        refreshes >= 2,
        "{refreshes} refreshes in 9 s of 6-second sessions"
    );
    assert_eq!(creds.failures(), 0);

    // The first session really is over at the S3.
    let fixed = aws_sdk_s3::Client::from_conf(
        l.link
            .s3
            .config()
            .to_builder()
            .credentials_provider(first)
            .build(),
    );
    let err = fixed
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("ExpiredToken"),
        "{calls} calls, {refreshes} refreshes"
    );
    l.dev.stop().await;
}

/// The SDK's default integrity settings (CRC32 for every upload: a streamed body goes as
/// `aws-chunked` with a signed trailer) are accepted and verified by the local S3, a wrong
/// checksum is `BadDigest` and stores nothing, and ListObjectsV2 pages with continuation tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checksums_aws_chunked_bodies_and_list_continuation() {
    let l = start().await;
    let defaults = aws_sdk_s3::Client::from_conf(
        l.link
            .s3
            .config()
            .to_builder()
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenSupported,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenSupported,
            )
            .build(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamed.bin");
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    defaults
        .put_object()
        .bucket(BUCKET)
        .key("chunked/streamed.bin")
        .body(ByteStream::from_path(&path).await.unwrap())
        .send()
        .await
        .unwrap();
    let back = defaults
        .get_object()
        .bucket(BUCKET)
        .key("chunked/streamed.bin")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert!(
        back.checksum_crc32().is_some(),
        "the stored CRC32 comes back"
    );
    assert!(back.body.collect().await.unwrap().into_bytes() == data);

    let err = l
        .link
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("chunked/bad.bin")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"not matching"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("BadDigest"), "{err:?}");
    // Nothing is stored for a refused upload...
    let stored = l
        .link
        .s3
        .head_object()
        .bucket(BUCKET)
        .key("chunked/bad.bin")
        .send()
        .await;
    assert!(stored.is_err(), "nothing stored for a bad checksum");
    // ...and a good object under the same key survives a refused overwrite.
    let err = l
        .link
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("chunked/streamed.bin")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"not matching"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("BadDigest"), "{err:?}");
    let kept = l
        .link
        .s3
        .get_object()
        .bucket(BUCKET)
        .key("chunked/streamed.bin")
        .send()
        .await
        .unwrap();
    assert!(
        kept.body.collect().await.unwrap().into_bytes() == data,
        "the good object is intact"
    );

    for i in 0..7 {
        l.link
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(format!("paged/{i}.txt"))
            .body(ByteStream::from(vec![b'p'; 10]))
            .send()
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = l
            .link
            .s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("paged/")
            .max_keys(3)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 7);
    let delimited = l
        .link
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert!(
        delimited
            .common_prefixes()
            .iter()
            .any(|p| p.prefix() == Some("paged/"))
    );
    l.dev.stop().await;
}
