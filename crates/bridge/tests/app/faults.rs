//! Dependency failures while the app runs: stopping or hanging the local S3, STS or Credential
//! Store gives the documented OData errors (503 unreachable, 504 timeout, 502 refused) naming
//! the dependency and its error code, never a secret; starting it again lets reads recover
//! without restarting the app; cached credentials ride out Credential Store and STS outages.

use std::time::{Duration, Instant};

use credstore::{CredentialStore, CredentialType, NewCredential, WriteMode};
use devstack::Service;
use serde_json::Value;

use crate::common::Setup;

const READ: &str = "bridge!t1.Read";

async fn buckets(s: &Setup, token: &str) -> (u16, Value) {
    let r = s
        .http()
        .get(format!("{}/catalog/Buckets", s.app))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    testkit::logs::capture_output("catalog response", &text);
    (status, serde_json::from_str(&text).unwrap())
}

/// Retries until the catalog answers `want`, for at most `within`.
async fn eventually(s: &Setup, token: &str, want: u16, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = buckets(s, token).await;
        if status == want {
            return body;
        }
        assert!(
            started.elapsed() < within,
            "still {status} after {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The app's `/metrics` text.
async fn metrics(s: &Setup) -> String {
    s.http()
        .get(format!("{}/metrics", s.app))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn assert_upstream(body: &Value, code: &str, dependency: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["target"], dependency, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(dependency), "{message}");
}

/// A deadline long enough for the SDK's own retries of a refused connection (3 attempts with
/// jittered backoff of up to 1 s and 2 s), so "unreachable" is told apart from "timed out".
fn short_timeouts(o: &mut bridge::app::AppOptions) {
    o.limits.upstream_timeout = Duration::from_secs(5);
}

async fn store(s: &Setup) -> credstore::Client {
    let vcap = cfenv::Vcap::from_json(&s.dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    credstore::Client::from_binding(
        &vcap.credstore(None).unwrap(),
        &credstore::ClientOptions {
            extra_roots_pem: vec![s.dev.ca_pem().as_bytes().to_vec()],
            ..credstore::ClientOptions::default()
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_stopped_is_503_and_reads_recover_when_it_is_back() {
    let s = Setup::start_opts(|_| {}, short_timeouts).await;
    let token = s.client_token("fault-reader", &[READ]).await;
    assert_eq!(buckets(&s, &token).await.0, 200);

    s.dev.stop_service(Service::S3).await;
    let (status, body) = buckets(&s, &token).await;
    assert_eq!(status, 503, "{body}");
    assert_upstream(&body, "503", "S3");
    // Readiness does not depend on S3 (credentials are still valid), liveness never does.
    let r = s
        .http()
        .get(format!("{}/health", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    s.dev.start_service(Service::S3).await.unwrap();
    eventually(&s, &token, 200, Duration::from_secs(10)).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_hanging_is_504_within_the_deadline() {
    let s = Setup::start_opts(|_| {}, short_timeouts).await;
    let token = s.client_token("fault-reader", &[READ]).await;
    assert_eq!(buckets(&s, &token).await.0, 200);

    s.dev.hang_service(Service::S3).await.unwrap();
    let started = Instant::now();
    let (status, body) = buckets(&s, &token).await;
    assert_eq!(status, 504, "{body}");
    assert_upstream(&body, "504", "S3");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    s.dev.start_service(Service::S3).await.unwrap();
    eventually(&s, &token, 200, Duration::from_secs(10)).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sts_down_before_the_first_read_is_503_then_recovers() {
    let s = Setup::start_opts(|_| {}, short_timeouts).await;
    let token = s.client_token("fault-reader", &[READ]).await;
    s.dev.stop_service(Service::Sts).await;
    let (status, body) = buckets(&s, &token).await;
    assert_eq!(status, 503, "{body}");
    assert_upstream(&body, "503", "STS");
    let r = s
        .http()
        .get(format!("{}/health/ready", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready["checks"]["aws"]["status"], "DOWN");
    assert_eq!(ready["checks"]["aws"]["dependency"], "STS");

    s.dev.start_service(Service::Sts).await.unwrap();
    // The credential cache backs off after a failure (1 s at first); reads come back after it.
    eventually(&s, &token, 200, Duration::from_secs(15)).await;
    let r = s
        .http()
        .get(format!("{}/health/ready", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// A request that outlives the request deadline (S3 hangs; the upstream deadline is longer):
/// a 504 OData error, logged and counted like any answer (issue 11: it was a bare 504 from
/// a timeout layer outside the request log).
#[tokio::test(flavor = "multi_thread")]
async fn the_request_deadline_is_an_odata_504_that_is_counted() {
    let s = Setup::start_opts(
        |_| {},
        |o| {
            o.limits.upstream_timeout = Duration::from_secs(30);
            o.limits.request_timeout = Duration::from_millis(1500);
        },
    )
    .await;
    let token = s.client_token("fault-reader", &[READ]).await;
    assert_eq!(buckets(&s, &token).await.0, 200);
    s.dev.hang_service(Service::S3).await.unwrap();
    let (status, body) = buckets(&s, &token).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "504", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not finish within 1500 ms"),
        "{body}"
    );
    let metrics = metrics(&s).await;
    // Counted under the route template: the handler that would name the resource was cut off.
    assert!(
        metrics.contains(
            r#"bridge_http_requests_total{method="GET",route="/catalog/{*path}",status="504"} 1"#
        ),
        "{metrics}"
    );
    s.dev.start_service(Service::S3).await.unwrap();
    eventually(&s, &token, 200, Duration::from_secs(10)).await;
    s.stop().await;
}

/// STS accepting connections but never answering (issue 11): a 504 naming STS, whichever
/// timeout passes first — the SDK's own (here 1 s per attempt, 2 s in all) or the upstream
/// deadline (here 5 s) — and reads recover once STS answers again.
#[tokio::test(flavor = "multi_thread")]
async fn sts_hanging_is_504_naming_sts_and_recovers() {
    for sdk_first in [true, false] {
        let s = Setup::start_opts(
            |_| {},
            |o| {
                short_timeouts(o);
                if sdk_first {
                    o.sts_timeouts = awslink::Timeouts {
                        connect: Duration::from_secs(1),
                        attempt: Duration::from_secs(1),
                        operation: Duration::from_secs(2),
                    };
                }
            },
        )
        .await;
        let token = s.client_token("fault-reader", &[READ]).await;
        s.dev.hang_service(Service::Sts).await.unwrap();
        let started = Instant::now();
        let (status, body) = buckets(&s, &token).await;
        assert_eq!(status, 504, "SDK first: {sdk_first}: {body}");
        assert_upstream(&body, "504", "STS");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(
            metrics(&s).await.contains(
                r#"bridge_http_requests_total{method="GET",route="/catalog/Buckets",status="504"} 1"#
            ),
            "the 504 is counted"
        );
        s.dev.start_service(Service::Sts).await.unwrap();
        eventually(&s, &token, 200, Duration::from_secs(20)).await;
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cached_credentials_ride_out_credential_store_and_sts_outages() {
    let s = Setup::start_opts(|_| {}, short_timeouts).await;
    let token = s.client_token("fault-reader", &[READ]).await;
    let (status, before) = buckets(&s, &token).await;
    assert_eq!(status, 200);
    let assumed = s.dev.aws_identity().assume_role_count();

    s.dev.stop_service(Service::CredStore).await;
    s.dev.stop_service(Service::Sts).await;
    for _ in 0..5 {
        let (status, body) = buckets(&s, &token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["value"], before["value"]);
    }
    let r = s
        .http()
        .get(format!("{}/health/ready", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "valid cached credentials: ready");
    assert_eq!(s.dev.aws_identity().assume_role_count(), assumed);
    s.dev.start_service(Service::CredStore).await.unwrap();
    s.dev.start_service(Service::Sts).await.unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_assume_role_is_502_with_the_sts_code_and_no_secret() {
    let s = Setup::start_opts(|_| {}, short_timeouts).await;
    let token = s.client_token("fault-reader", &[READ]).await;
    // The IAM user's key id with a wrong secret: STS refuses the signature.
    let user = s.dev.aws_identity().user();
    let wrong = testkit::logs::secret("wrong-secret-key-0000000000000000000000");
    store(&s)
        .await
        .write(
            CredentialType::Password,
            "aws",
            &NewCredential {
                name: "aws-iam-user".into(),
                value: cfenv::Secret::new(wrong.clone()),
                username: Some(user.access_key_id.clone()),
                format: None,
                metadata: None,
            },
            WriteMode::Upsert,
        )
        .await
        .unwrap();
    let (status, body) = buckets(&s, &token).await;
    assert_eq!(status, 502, "{body}");
    assert_upstream(&body, "502", "STS");
    let code = body["error"]["details"][0]["code"].as_str().unwrap();
    assert_eq!(code, "SignatureDoesNotMatch", "{body}");
    let text = body.to_string();
    assert!(!text.contains(&wrong));
    assert!(!text.contains(user.secret_access_key.expose()));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_keys_in_the_credential_store_are_502_naming_it() {
    let s = Setup::start_opts(|_| {}, short_timeouts).await;
    let token = s.client_token("fault-reader", &[READ]).await;
    store(&s)
        .await
        .delete(CredentialType::Password, "aws", "aws-iam-user")
        .await
        .unwrap();
    let (status, body) = buckets(&s, &token).await;
    assert_eq!(status, 502, "{body}");
    assert_upstream(&body, "502", "Credential Store");
    assert_eq!(body["error"]["details"][0]["code"], "NotFound", "{body}");

    // The Credential Store itself down (nothing cached yet): 503 naming it.
    let s2 = Setup::start_opts(|_| {}, short_timeouts).await;
    let token2 = s2.client_token("fault-reader", &[READ]).await;
    s2.dev.stop_service(Service::CredStore).await;
    let (status, body) = buckets(&s2, &token2).await;
    assert_eq!(status, 503, "{body}");
    assert_upstream(&body, "503", "Credential Store");
    s2.stop().await;
    s.stop().await;
}
