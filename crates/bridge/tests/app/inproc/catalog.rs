//! The catalog's route rules in process (moved from the end-to-end `catalog` module): keys
//! and 404s, query options, server-driven paging, bad input as OData errors, the Read scope,
//! `$metadata` and ETags, who may read `/metrics`. Buckets come from `MemoryS3`.

use axum::http::StatusCode;
use bridge::app::metrics::MetricsAccess;
use serde_json::Value;

use super::{CLIENTID, TestApp};
use crate::catalog::names;

async fn get(s: &TestApp, path: &str, token: &str) -> super::Resp {
    s.get(path, token).await
}

async fn json(s: &TestApp, path: &str, token: &str) -> Value {
    let r = get(s, path, token).await;
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["odata-version"], "4.0", "{path}");
    r.json().await.unwrap()
}

fn create_buckets(s: &TestApp, names: impl IntoIterator<Item = String>) {
    for n in names {
        s.add_bucket(&n);
    }
}

#[tokio::test]
async fn one_bucket_by_key_or_404() {
    let s = TestApp::new();
    let token = s.token(&["Read"]);
    let b = json(&s, "/catalog/Buckets('bridge-archive')", &token).await;
    assert_eq!(b["@odata.context"], "$metadata#Buckets/$entity");
    assert_eq!(b["id"], "bridge-archive");
    assert!(b.get("value").is_none());
    let b = json(&s, "/catalog/Buckets(id='bridge-documents')/name", &token).await;
    assert_eq!(b["value"], "bridge-documents");
    let r = get(
        &s,
        "/catalog/Buckets('bridge-documents')/name/$value",
        &token,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "bridge-documents");

    // CAP answers the first row for any key; we answer 404.
    for missing in [
        "/catalog/Buckets('no-such-bucket')",
        "/catalog/Buckets('no-such-bucket')/name",
        "/catalog/Buckets('%E2%9C%93%20unicode')",
    ] {
        let r = get(&s, missing, &token).await;
        assert_eq!(r.status(), 404, "{missing}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "404", "{missing}");
        assert!(e["error"]["message"].as_str().unwrap().len() > 5);
    }
}

#[tokio::test]
async fn query_options_are_applied() {
    let s = TestApp::new();
    let token = s.token(&["Read"]);
    create_buckets(&s, ["alpha-1".into(), "alpha-2".into(), "beta-1".into()]);
    let all = s.bucket_names().await;

    let b = json(
        &s,
        "/catalog/Buckets?$filter=startswith(name,'alpha')&$orderby=name%20desc",
        &token,
    )
    .await;
    assert_eq!(names(&b), ["alpha-2", "alpha-1"]);

    let b = json(
        &s,
        "/catalog/Buckets?$orderby=name&$top=2&$skip=1&$count=true",
        &token,
    )
    .await;
    assert_eq!(b["@odata.count"], all.len());
    assert_eq!(names(&b), all[1..3].to_vec());

    let b = json(
        &s,
        "/catalog/Buckets?$select=name&$filter=name%20eq%20'beta-1'",
        &token,
    )
    .await;
    assert_eq!(b["@odata.context"], "$metadata#Buckets(name)");
    assert_eq!(names(&b), ["beta-1"]);
    assert!(b["value"][0].get("created").is_none());

    let b = json(&s, "/catalog/Buckets?$search=ALPHA", &token).await;
    assert_eq!(names(&b).len(), 2);

    let b = json(
        &s,
        "/catalog/Buckets?$filter=created%20gt%201970-01-01T00:00:00Z%20and%20contains(name,'-1')",
        &token,
    )
    .await;
    let mut n = names(&b);
    n.sort();
    assert_eq!(n, ["alpha-1", "beta-1"]);

    let r = get(
        &s,
        "/catalog/Buckets/$count?$filter=startswith(name,'alpha')",
        &token,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), "2");

    // Function results take query options too.
    let b = json(&s, "/catalog/getBuckets()?$top=1&$orderby=name", &token).await;
    assert_eq!(names(&b), all[..1].to_vec());
}

#[tokio::test]
async fn server_driven_paging_links_work_when_followed() {
    let s = TestApp::with(|l| l.max_page_size = 7, MetricsAccess::Open);
    let token = s.token(&["Read"]);
    create_buckets(&s, (0..23).map(|i| format!("page-{i:02}")));
    let all = s.bucket_names().await;

    // The server's limit (7), then a client's smaller preference (5).
    for (prefer, size) in [(None, 7), (Some("odata.maxpagesize=5"), 5)] {
        let mut url = "/catalog/Buckets?$orderby=name&$count=true".to_owned();
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let headers: Vec<(&str, &str)> =
                prefer.map(|p| vec![("prefer", p)]).unwrap_or_default();
            let r = s.get_with(&url, Some(&token), &headers).await;
            assert_eq!(r.status(), 200, "{url}");
            if prefer.is_some() {
                assert_eq!(r.headers()["preference-applied"], "odata.maxpagesize=5");
            }
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["@odata.count"], all.len());
            let page = names(&body);
            assert!(page.len() <= size, "{url}: {}", page.len());
            seen.extend(page);
            pages += 1;
            match body["@odata.nextLink"].as_str() {
                // Relative to the service root.
                Some(next) => url = format!("/catalog/{next}"),
                None => break,
            }
            assert!(pages < 100);
        }
        assert_eq!(seen, all, "prefer {prefer:?}");
        assert_eq!(pages, all.len().div_ceil(size));
    }

    // $top across pages: exactly $top rows in all.
    let b = json(&s, "/catalog/Buckets?$orderby=name&$top=9", &token).await;
    assert_eq!(names(&b).len(), 7);
    let next = b["@odata.nextLink"].as_str().unwrap().to_owned();
    let b = json(&s, &format!("/catalog/{next}"), &token).await;
    assert_eq!(names(&b), all[7..9].to_vec());
    assert!(b.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn bad_input_is_an_odata_error_never_a_500() {
    let s = TestApp::new();
    let token = s.token(&["Read"]);
    let long = format!(
        "/catalog/Buckets?$filter=name%20eq%20'{}'",
        "x".repeat(40_000)
    );
    let deep = format!(
        "/catalog/Buckets?$filter={}name%20eq%20'a'{}",
        "(".repeat(500),
        ")".repeat(500)
    );
    let cases: Vec<(&str, u16)> = vec![
        ("/catalog/Buckets?$filter=name%20eq", 400),
        ("/catalog/Buckets?$filter=name%20eq%20'unterminated", 400),
        ("/catalog/Buckets?$filter=nope%20eq%20'x'", 400),
        (
            "/catalog/Buckets?$filter=name%20eq%202024-01-01T00:00:00Z",
            400,
        ),
        ("/catalog/Buckets?$top=-1", 400),
        ("/catalog/Buckets?$top=abc", 400),
        ("/catalog/Buckets?$skip=99999999999999999999999", 400),
        ("/catalog/Buckets?$orderby=nope", 400),
        ("/catalog/Buckets?$select=nope", 400),
        ("/catalog/Buckets?$expand=x", 400),
        ("/catalog/Buckets?$foo=1", 400),
        ("/catalog/Buckets?$top=1&$top=2", 400),
        ("/catalog/Buckets?$count=maybe", 400),
        ("/catalog/Buckets?$skiptoken=abc", 400),
        ("/catalog/Nope", 404),
        ("/catalog/Nope('x')", 404),
        ("/catalog/Buckets('x')/nope", 404),
        ("/catalog/Buckets('unterminated)", 400),
        ("/catalog/Buckets(''')", 400),
        ("/catalog/Buckets(name='x')", 400),
        ("/catalog/Buckets(42)", 400),
        ("/catalog/Buckets('a'", 400),
        ("/catalog/getNothing()", 404),
        (long.as_str(), 400),
        (deep.as_str(), 400),
    ];
    for (path, status) in cases {
        let r = get(&s, path, &token).await;
        let shown = &path[..path.len().min(80)];
        assert_eq!(r.status().as_u16(), status, "{shown}");
        assert_eq!(r.headers()["odata-version"], "4.0", "{shown}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], status.to_string(), "{shown}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && message.len() < 400,
            "{shown}: {message}"
        );
    }
    // Other methods and $batch: 405 and 501, as OData errors.
    let r = s.post("/catalog/Buckets", &token).await;
    assert_eq!(r.status(), 405);
    let r = s.post("/catalog/$batch", &token).await;
    assert_eq!(r.status(), 501);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("$direct")
    );
    // A very long URL is refused as a whole, still as an error, not a dropped connection.
    let huge = format!("/catalog/Buckets('{}')", "y".repeat(30_000));
    let r = get(&s, &huge, &token).await;
    assert!(r.status().is_client_error(), "{}", r.status());
}

#[tokio::test]
async fn reads_need_the_read_scope() {
    let s = TestApp::new();
    let r = s.get_with("/catalog/Buckets", None, &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The app's own client-credentials token has JobRunner, not Read.
    let app_token = s.token_for(CLIENTID, &["JobRunner"]);
    for path in [
        "/catalog/Buckets",
        "/catalog/getBuckets()",
        "/catalog/$metadata",
        "/catalog/",
    ] {
        let r = get(&s, path, &app_token).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "403");
    }
}

#[tokio::test]
async fn metadata_and_service_document_with_etags() {
    let s = TestApp::new();
    let token = s.token(&["Read"]);
    for path in ["/catalog/$metadata", "/catalog/"] {
        let r = get(&s, path, &token).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["odata-version"], "4.0");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let body = r.text().await.unwrap();
        if path.ends_with("$metadata") {
            assert!(body.contains("<edmx:Edmx Version=\"4.0\""), "{body}");
            assert!(
                body.contains("<EntitySet Name=\"Buckets\" EntityType=\"CatalogService.Buckets\"")
            );
            assert!(body.contains("<FunctionImport Name=\"getBuckets\""));
        } else {
            let doc: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(doc["@odata.context"], "$metadata");
            assert_eq!(doc["value"][0]["name"], "Buckets");
        }
        let r = s
            .get_with(path, Some(&token), &[("if-none-match", &etag)])
            .await;
        assert_eq!(r.status(), 304, "{path}");
        assert!(r.text().await.unwrap().is_empty());
        let r = s
            .get_with(path, Some(&token), &[("if-none-match", "\"other\"")])
            .await;
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = get(&s, "/catalog/$metadata?$format=json", &token).await;
    assert_eq!(r.status(), 200);
    let csdl: Value = r.json().await.unwrap();
    assert_eq!(csdl["$Version"], "4.0");
    assert_eq!(csdl["CatalogService"]["Buckets"]["$Kind"], "EntityType");
    // The service document redirects from /catalog to /catalog/ like CAP's.
    let r = get(&s, "/catalog", &token).await;
    assert!(
        r.status() == 200 || r.status().is_redirection(),
        "{}",
        r.status()
    );
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let secret = testkit::logs::secret("metrics-token-0123456789abcdef");
    let s = TestApp::with(
        |_| {},
        MetricsAccess::Token(cfenv::Secret::new(secret.clone())),
    );
    let r = s.get_with("/metrics", None, &[]).await;
    assert_eq!(r.status(), 401);
    let r = s
        .get_with("/metrics", Some("wrong-token-0123456789"), &[])
        .await;
    assert_eq!(r.status(), 401);
    let r = s.get_with("/metrics", Some(&secret), &[]).await;
    assert_eq!(r.status(), 200);

    let s = TestApp::with(|_| {}, MetricsAccess::Disabled);
    let r = s.get_with("/metrics", None, &[]).await;
    assert_eq!(r.status(), 404);
}
