//! The local S3 over raw HTTPS: bad input must give an S3 error document (`<Error><Code>`),
//! never a 500. Requests are signed by the reference signer (`aws-sigv4`, S3 settings) and sent
//! byte for byte over TLS, so paths such as `/bucket/../x` reach the server unnormalised.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sts_support::Aws;

/// A raw S3 request.
pub struct Raw {
    pub method: &'static str,
    /// Path and query exactly as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct Answer {
    pub status: u16,
    /// The response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> &str {
        crate::sts_support::tag(&self.text, "Code").unwrap_or("")
    }

    /// The value of the response header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An S3 error document with `code` and `status`.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(self.text.contains("<Error>"), "{}", self.text);
        assert_eq!(self.code(), code, "{}", self.text);
    }
}

pub fn raw(method: &'static str, target: &str) -> Raw {
    Raw {
        method,
        target: target.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn authority(aws: &Aws) -> String {
    aws.stack
        .dev
        .s3_url()
        .trim_start_matches("https://")
        .to_owned()
}

/// Signs `r` for S3 with `creds` in `region` at `time` (headers are added to `r`).
pub fn signed(aws: &Aws, mut r: Raw, creds: &Credentials, region: &str, time: SystemTime) -> Raw {
    let url = format!("https://{}{}", authority(aws), r.target);
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        r.method,
        &url,
        r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&r.body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (headers, _) = instructions.into_parts();
    for h in headers {
        r.headers.push((h.name().to_owned(), h.value().to_owned()));
    }
    r
}

/// Sends `r` over TLS as written and reads the whole answer.
pub async fn send(aws: &Aws, r: &Raw) -> Answer {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(aws.stack.dev.ca_pem().as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let authority = authority(aws);
    let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
        r.method,
        r.target,
        r.body.len()
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&r.body).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        text: body.to_owned(),
    }
}

fn user(aws: &Aws) -> Credentials {
    aws.user_credentials()
}

#[tokio::test]
async fn a_signed_get_of_the_readme_works_path_style() {
    let aws = Aws::start().await;
    let session = aws.assume("s3-readme", None).await;
    let r = signed(
        &aws,
        raw("GET", "/bridge-documents/README.txt"),
        &session,
        &aws.region(),
        SystemTime::now(),
    );
    let a = send(&aws, &r).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.text.contains("local S3"), "{}", a.text);
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn unsigned_and_malformed_requests_are_s3_errors() {
    let aws = Aws::start().await;
    send(&aws, &raw("GET", "/bridge-documents/README.txt"))
        .await
        .assert_error(403, "AccessDenied");
    send(&aws, &raw("GET", "/"))
        .await
        .assert_error(403, "AccessDenied");

    let mut bad = raw("GET", "/bridge-documents/README.txt");
    bad.headers.push((
        "authorization".into(),
        "AWS4-HMAC-SHA256 this is not a signature".into(),
    ));
    let a = send(&aws, &bad).await;
    assert!((400..500).contains(&a.status), "{} {}", a.status, a.text);
    assert!(
        a.text.contains("<Error>") && !a.code().is_empty(),
        "{}",
        a.text
    );

    // SigV2 is refused.
    let mut v2 = raw("GET", "/bridge-documents/README.txt");
    v2.headers.push((
        "authorization".into(),
        format!("AWS {}:c2lnbmF0dXJl", aws.user_key()),
    ));
    v2.headers
        .push(("date".into(), "Tue, 27 Mar 2007 19:36:42 +0000".into()));
    let a = send(&aws, &v2).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert!(a.text.contains("<Error>"), "{}", a.text);
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn a_wrong_region_and_clock_skew_are_refused() {
    let aws = Aws::start().await;
    let r = signed(
        &aws,
        raw("GET", "/bridge-documents/README.txt"),
        &user(&aws),
        "us-east-1",
        SystemTime::now(),
    );
    send(&aws, &r)
        .await
        .assert_error(400, "AuthorizationHeaderMalformed");

    let r = signed(
        &aws,
        raw("GET", "/bridge-documents/README.txt"),
        &user(&aws),
        &aws.region(),
        SystemTime::now() - Duration::from_secs(20 * 60),
    );
    send(&aws, &r)
        .await
        .assert_error(403, "RequestTimeTooSkewed");
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn session_tokens_are_checked() {
    let aws = Aws::start().await;
    let session = aws.assume("s3-tokens", Some(900)).await;
    let get = || raw("GET", "/bridge-documents/README.txt");

    let ok = signed(&aws, get(), &session, &aws.region(), SystemTime::now());
    let a = send(&aws, &ok).await;
    assert_eq!(a.status, 200, "{}", a.text);

    let no_token = Credentials::new(
        session.access_key_id(),
        session.secret_access_key(),
        None,
        None,
        "test",
    );
    let r = signed(&aws, get(), &no_token, &aws.region(), SystemTime::now());
    send(&aws, &r).await.assert_error(403, "AccessDenied");

    let wrong = Credentials::new(
        session.access_key_id(),
        session.secret_access_key(),
        Some("IQoJb3JpZ2luX2VjEWRONGTOKEN".to_owned()),
        None,
        "test",
    );
    let r = signed(&aws, get(), &wrong, &aws.region(), SystemTime::now());
    send(&aws, &r).await.assert_error(400, "InvalidToken");

    // The session ends (dev clock); the signature is still fresh by the system clock.
    aws.clock.advance(Duration::from_secs(901));
    let r = signed(&aws, get(), &session, &aws.region(), SystemTime::now());
    let a = send(&aws, &r).await;
    a.assert_error(400, "ExpiredToken");
    assert!(
        a.text.contains("The provided token has expired."),
        "{}",
        a.text
    );
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn policies_decide_per_bucket_and_operation() {
    let aws = Aws::start().await;
    let session = aws.assume("s3-policy", None).await;
    let region = aws.region();
    let now = SystemTime::now;

    let mut put = raw("PUT", "/bridge-archive/x.txt");
    put.body = b"hello".to_vec();
    let r = signed(&aws, put, &session, &region, now());
    send(&aws, &r).await.assert_error(403, "AccessDenied");

    let r = signed(
        &aws,
        raw("DELETE", "/bridge-documents"),
        &session,
        &region,
        now(),
    );
    send(&aws, &r).await.assert_error(403, "AccessDenied");

    // The IAM user itself has no S3 permissions (it may only assume the role).
    let r = signed(
        &aws,
        raw("GET", "/bridge-documents/README.txt"),
        &user(&aws),
        &region,
        now(),
    );
    send(&aws, &r).await.assert_error(403, "AccessDenied");

    let r = signed(
        &aws,
        raw("GET", "/bridge-documents/missing.txt"),
        &session,
        &region,
        now(),
    );
    send(&aws, &r).await.assert_error(404, "NoSuchKey");

    // Without s3:ListBucket a missing key is indistinguishable from a forbidden one: 403.
    let get_only = aws
        .assume_with_policy(
            "get-only",
            None,
            Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#),
        )
        .await;
    let r = signed(
        &aws,
        raw("GET", "/bridge-documents/missing.txt"),
        &get_only,
        &region,
        now(),
    );
    send(&aws, &r).await.assert_error(403, "AccessDenied");
    let r = signed(
        &aws,
        raw("GET", "/bridge-documents/README.txt"),
        &get_only,
        &region,
        now(),
    );
    assert_eq!(send(&aws, &r).await.status, 200);
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn keys_cannot_escape_the_storage_directory() {
    let aws = Aws::start().await;
    let session = aws.assume("s3-traversal", None).await;
    let region = aws.region();
    let data = aws.stack.dev.data_dir().to_path_buf();
    let outside = [
        data.join("x"),
        data.join("s3").join("x"),
        data.parent().unwrap().join("x"),
        data.join("s3").join("escaped"),
    ];
    for target in [
        "/bridge-documents/../x",
        "/bridge-documents/%2e%2e/x",
        "/bridge-documents/%2E%2E/%2e%2e/x",
        "/bridge-documents/a/../../x",
        "/bridge-documents/..%2Fx",
        "/bridge-documents//etc/x",
        "/bridge-documents/./x",
        "/bridge-documents/a%5C..%5Cx",
    ] {
        let mut put = raw("PUT", target);
        put.body = b"escaped".to_vec();
        let r = signed(&aws, put, &session, &region, SystemTime::now());
        let a = send(&aws, &r).await;
        assert!(
            (400..500).contains(&a.status),
            "{target}: {} {}",
            a.status,
            a.text
        );
        assert!(
            a.text.contains("<Error>") && !a.code().is_empty(),
            "{target}: {}",
            a.text
        );
        for p in &outside {
            assert!(!p.exists(), "{target} wrote {}", p.display());
        }
    }
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn objects_survive_a_restart_and_the_binding_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let aws = Aws::start_in(dir).await;
    let session = aws.assume("s3-restart", None).await;
    let mut put = raw("PUT", "/bridge-documents/kept.txt");
    put.body = b"kept".to_vec();
    let r = signed(&aws, put, &session, &aws.region(), SystemTime::now());
    let a = send(&aws, &r).await;
    assert_eq!(a.status, 200, "{}", a.text);

    let vcap = aws.stack.dev.vcap_services().clone();
    let pl = &vcap["privatelink"][0];
    assert_eq!(pl["label"], "privatelink");
    assert_eq!(pl["plan"], "standard");
    assert_eq!(pl["name"], devstack::PRIVATE_LINK_INSTANCE);
    let host = aws.stack.dev.private_link_host().to_owned();
    assert_eq!(pl["credentials"]["hostname"], format!("*.{host}"));
    assert!(
        host.starts_with("vpce-dev.s3.eu-central-1.localhost:"),
        "{host}"
    );

    let crate::common::Stack { dev, dir } = aws.stack;
    dev.stop().await;
    assert!(path.join("s3/bridge-documents/kept.txt").exists());
    let again = Aws::start_in(dir).await;
    let session = again.assume("s3-restart-2", None).await;
    let r = signed(
        &again,
        raw("GET", "/bridge-documents/kept.txt"),
        &session,
        &again.region(),
        SystemTime::now(),
    );
    let a = send(&again, &r).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.text, "kept");
    again.stack.dev.stop().await;
}
