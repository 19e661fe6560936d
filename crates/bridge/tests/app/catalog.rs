//! The OData V4 catalog at `/catalog` over the local S3: the buckets are the ones the S3 holds,
//! query options are applied, paging links work when followed, bad input is a 400/404 OData
//! error (never a 500), reads need the Read scope.

use serde_json::Value;

use crate::common::Setup;

const READ: &str = "bridge!t1.Read";

async fn reader(s: &Setup) -> String {
    s.client_token("catalog-reader", &[READ]).await
}

async fn get(s: &Setup, path: &str, token: &str) -> reqwest::Response {
    s.http()
        .get(format!("{}{path}", s.app))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn json(s: &Setup, path: &str, token: &str) -> Value {
    let r = get(s, path, token).await;
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["odata-version"], "4.0", "{path}");
    r.json().await.unwrap()
}

/// The bucket names the local S3 holds: its data directory's sub-directories.
fn buckets_on_disk(s: &Setup) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.dev.s3().dir())
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            (e.file_type().unwrap().is_dir()).then(|| e.file_name().to_string_lossy().into_owned())
        })
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

pub(crate) fn names(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

fn create_buckets(s: &Setup, names: impl IntoIterator<Item = String>) {
    for n in names {
        std::fs::create_dir(s.dev.s3().dir().join(n)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn buckets_are_exactly_what_the_s3_holds() {
    let s = Setup::start().await;
    let token = reader(&s).await;
    create_buckets(&s, ["zz-created-by-test".to_owned()]);
    let body = json(&s, "/catalog/Buckets", &token).await;
    assert_eq!(body["@odata.context"], "$metadata#Buckets");
    let mut got = names(&body);
    got.sort();
    assert_eq!(got, buckets_on_disk(&s));
    assert!(got.contains(&"zz-created-by-test".to_owned()));
    assert!(got.contains(&"bridge-documents".to_owned()));
    for b in body["value"].as_array().unwrap() {
        assert_eq!(b["id"], b["name"]);
        let created = b["created"].as_str().unwrap();
        // DateTimeOffset with milliseconds, UTC.
        assert_eq!(created.len(), "2026-11-22T12:00:00.000Z".len(), "{created}");
        assert!(
            created.ends_with('Z') && created.as_bytes()[19] == b'.',
            "{created}"
        );
    }

    // The function returns the same rows with its own context.
    let f = json(&s, "/catalog/getBuckets()", &token).await;
    assert_eq!(
        f["@odata.context"],
        "$metadata#Collection(CatalogService.Buckets)"
    );
    let mut fnames = names(&f);
    fnames.sort();
    assert_eq!(fnames, got);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_and_upstream_calls() {
    let s = Setup::start().await;
    let token = reader(&s).await;
    for _ in 0..3 {
        json(&s, "/catalog/Buckets", &token).await;
    }
    let r = s
        .http()
        .get(format!("{}/metrics", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            "bridge_http_requests_total{method=\"GET\",route=\"/catalog/Buckets\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "bridge_upstream_calls_total{dependency=\"S3\",operation=\"ListBuckets\",outcome=\"ok\"} 3"
        ),
        "{text}"
    );
    assert!(
        text.contains("bridge_sts_assume_role_total{outcome=\"success\"} 1"),
        "{text}"
    );
    assert!(text.contains("bridge_aws_credentials_valid 1"), "{text}");
    assert!(
        text.contains("bridge_http_request_duration_seconds_bucket"),
        "{text}"
    );
    s.stop().await;
}
