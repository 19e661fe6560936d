//! Issue 12, item 7: fidelity defects of the stand-ins. The local S3 lists buckets by name and
//! pages them in that order; its error documents carry `Message`, `Resource` and `RequestId`
//! (and every response `x-amz-request-id`); STS sessions survive a restart of the dev stack;
//! and oversized or malformed requests get each stand-in's own error shape, not axum's plain
//! text.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::Stack;
use crate::s3_errors::{Answer, raw, send, signed};
use crate::sts_support::{Aws, tag};

/// Every `<Name>` of a ListBuckets answer, in document order.
fn bucket_names(xml: &str) -> Vec<String> {
    xml.split("<Name>")
        .skip(1)
        .filter_map(|s| s.split_once("</Name>").map(|(n, _)| n.to_owned()))
        .collect()
}

/// A signed GET of `target` with `creds`.
async fn get(aws: &Aws, target: &str, creds: &aws_credential_types::Credentials) -> Answer {
    let r = signed(
        aws,
        raw("GET", target),
        creds,
        &aws.region(),
        SystemTime::now(),
    );
    send(aws, &r).await
}

#[tokio::test]
async fn list_buckets_is_sorted_by_name_and_pages_in_that_order() {
    let aws = Aws::start().await;
    let root = aws.stack.dev.s3().dir().to_path_buf();
    // Created out of name order; s3s-fs lists them in directory order.
    let made = [
        "zulu-bucket",
        "alpha-bucket",
        "mike-bucket",
        "bravo-bucket",
        "yankee-bucket",
        "charlie-bucket",
        "x-ray-bucket",
        "delta-bucket",
    ];
    for name in made {
        std::fs::create_dir(root.join(name)).unwrap();
    }
    let session = aws.assume("list-order", None).await;

    let a = get(&aws, "/", &session).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let all = bucket_names(&a.text);
    let mut expected: Vec<String> = made.iter().map(|s| (*s).to_owned()).collect();
    expected.extend(["bridge-archive".to_owned(), "bridge-documents".to_owned()]);
    expected.sort();
    assert_eq!(all, expected, "ListBuckets is sorted by name");
    assert!(tag(&a.text, "ContinuationToken").is_none(), "{}", a.text);

    // Pages of three, following the continuation token, give the same order.
    let mut paged = Vec::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let target = match &token {
            None => "/?max-buckets=3".to_owned(),
            Some(t) => format!("/?continuation-token={t}&max-buckets=3"),
        };
        let a = get(&aws, &target, &session).await;
        assert_eq!(a.status, 200, "{target}: {}", a.text);
        let names = bucket_names(&a.text);
        assert!(names.len() <= 3, "{}", a.text);
        paged.extend(names);
        pages += 1;
        match tag(&a.text, "ContinuationToken") {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 4);
    assert_eq!(paged, expected);

    let a = get(&aws, "/?prefix=bridge-", &session).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        bucket_names(&a.text),
        ["bridge-archive", "bridge-documents"]
    );
    assert_eq!(tag(&a.text, "Prefix"), Some("bridge-"), "{}", a.text);

    get(&aws, "/?continuation-token=%21%21", &session)
        .await
        .assert_error(400, "InvalidArgument");
    get(&aws, "/?max-buckets=0", &session)
        .await
        .assert_error(400, "InvalidArgument");
    aws.stack.dev.stop().await;
}

/// Asserts S3's complete error document: `Code`, a `Message`, `Resource` if given, and a
/// `RequestId` equal to the `x-amz-request-id` header; returns the request id.
fn assert_complete_error(a: &Answer, status: u16, code: &str, resource: Option<&str>) -> String {
    a.assert_error(status, code);
    let message = tag(&a.text, "Message").unwrap_or_default();
    assert!(message.len() > 5, "a useful message: {}", a.text);
    assert_eq!(tag(&a.text, "Resource"), resource, "{}", a.text);
    let id = a
        .header("x-amz-request-id")
        .unwrap_or_else(|| panic!("no x-amz-request-id: {:?}", a.headers));
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(tag(&a.text, "RequestId"), Some(id), "{}", a.text);
    id.to_owned()
}

#[tokio::test]
async fn s3_error_documents_have_message_resource_and_request_id() {
    let aws = Aws::start().await;
    let session = aws.assume("s3-error-shape", None).await;
    let region = aws.region();

    let a = get(&aws, "/bridge-documents/missing-key.txt", &session).await;
    let first = assert_complete_error(
        &a,
        404,
        "NoSuchKey",
        Some("/bridge-documents/missing-key.txt"),
    );
    assert_eq!(
        tag(&a.text, "Message"),
        Some("The specified key does not exist.")
    );
    let a = get(&aws, "/bridge-documents/missing-key.txt", &session).await;
    let second = assert_complete_error(
        &a,
        404,
        "NoSuchKey",
        Some("/bridge-documents/missing-key.txt"),
    );
    assert_ne!(first, second, "a request id per request");

    // Our own refusals (the access hook) and the bucket as the resource.
    let mut put = raw("PUT", "/bridge-archive/x.txt");
    put.body = b"hello".to_vec();
    let a = send(
        &aws,
        &signed(&aws, put, &session, &region, SystemTime::now()),
    )
    .await;
    assert_complete_error(&a, 403, "AccessDenied", Some("/bridge-archive/x.txt"));
    let a = send(
        &aws,
        &signed(
            &aws,
            raw("DELETE", "/bridge-documents"),
            &session,
            &region,
            SystemTime::now(),
        ),
    )
    .await;
    assert_complete_error(&a, 403, "AccessDenied", Some("/bridge-documents"));

    // s3s's own checks (signature time) and a request on the service (no resource).
    let a = send(
        &aws,
        &signed(
            &aws,
            raw("GET", "/bridge-documents/README.txt"),
            &session,
            &region,
            SystemTime::now() - Duration::from_secs(20 * 60),
        ),
    )
    .await;
    assert_complete_error(
        &a,
        403,
        "RequestTimeTooSkewed",
        Some("/bridge-documents/README.txt"),
    );
    let a = send(&aws, &raw("GET", "/")).await;
    assert_complete_error(&a, 403, "AccessDenied", None);

    // Successful answers carry a request id too.
    let a = get(&aws, "/bridge-documents/README.txt", &session).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.header("x-amz-request-id").map(str::len), Some(16));
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn sts_sessions_survive_a_restart() {
    let aws = Aws::start().await;
    let session = aws.assume("before-restart", None).await;
    let Aws { stack, .. } = aws;
    let Stack { dev, dir } = stack;
    dev.stop().await;

    let file = dir.path().join("aws").join("sessions.bin");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let sealed = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
    assert!(sealed.starts_with("BRIDGEV1"));
    assert!(
        !sealed.contains(session.access_key_id())
            && !sealed.contains(session.secret_access_key())
            && !sealed.contains(session.session_token().unwrap()),
        "sessions.bin is sealed"
    );

    let again = Aws::start_in(dir).await;
    let a = get(&again, "/bridge-documents/README.txt", &session).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.text.contains("local S3"), "{}", a.text);
    again.stack.dev.stop().await;
}

/// A raw HTTPS/1.1 exchange with `authority`: `head` (request line and headers, without the
/// final empty line) and `body` as written, then the whole answer as (status, headers, body),
/// header names in lower case. Panics if no answer comes within ten seconds.
async fn exchange(
    ca_pem: &str,
    authority: &str,
    head: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
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
    let tcp = tokio::net::TcpStream::connect(authority).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let request = format!("{head}\r\nhost: {authority}\r\nconnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    tls.flush().await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "no answer to {head:?}");
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A POST of `path` announcing a 3 MB body and sending just over 64 KiB of it: every
/// stand-in must refuse it once it has read more than its limit, in its own format.
async fn oversized_post(
    s: &Stack,
    origin: &str,
    path: &str,
) -> (u16, Vec<(String, String)>, String) {
    let authority = origin.trim_start_matches("https://");
    let authority = authority.split('/').next().unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 3000000"
    );
    exchange(s.dev.ca_pem(), authority, &head, &[b'a'; 64 * 1024 + 1]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_malformed_requests_get_each_stand_ins_error_shape() {
    let s = Stack::start().await;

    // Credential Store: {"status", "error", "message"}.
    let (status, headers, body) =
        oversized_post(&s, s.dev.credstore_url(), "/api/v1/credentials/password").await;
    assert_eq!(status, 413, "{body}");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], 413, "{body}");
    assert_eq!(json["error"], "Payload Too Large", "{body}");
    assert!(
        json["message"].as_str().unwrap().contains("64 KiB"),
        "{body}"
    );

    let b = s.dev.vcap_services()["credstore"][0]["credentials"].clone();
    let (user, password) = (
        b["username"].as_str().unwrap(),
        b["password"].as_str().unwrap(),
    );
    let http = s.http();
    let url = s.dev.credstore_url();
    for (method, path) in [
        (reqwest::Method::GET, "password?name=a&name=b"),
        (reqwest::Method::PUT, "password?name=a"),
    ] {
        let r = http
            .request(method.clone(), format!("{url}/{path}"))
            .basic_auth(user, Some(password))
            .header("sapcp-credstore-namespace", "shape")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!((400..500).contains(&status), "{method} {path}: {status}");
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:?}"));
        assert_eq!(json["status"], status, "{text}");
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{text}"
        );
    }

    // XSUAA: {"error", "error_description"} on the API, a page on the login form.
    let uaa = s.uaa_url();
    let (status, headers, body) = oversized_post(&s, &uaa, "/oauth/token").await;
    assert_eq!(status, 413, "{body}");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "invalid_request", "{body}");
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("64 KiB")
    );
    let (status, headers, body) = oversized_post(&s, &uaa, "/login.do").await;
    assert_eq!(status, 413, "{body}");
    assert!(header(&headers, "content-type").starts_with("text/html"));
    assert!(body.contains("64 KiB"), "{body}");
    let r = http.get(format!("{uaa}/oauth/token")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers().contains_key("allow"));
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["error"], "method_not_allowed");

    // STS: the ErrorResponse envelope with a request id.
    let (status, headers, body) = oversized_post(&s, s.dev.sts_url(), "/").await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
        "{body}"
    );
    assert_eq!(tag(&body, "Code"), Some("RequestEntityTooLarge"), "{body}");
    assert_eq!(
        tag(&body, "RequestId"),
        Some(header(&headers, "x-amzn-requestid"))
    );
    s.dev.stop().await;
}
