//! Oversized input to every stand-in: huge headers and very long URLs get a 4xx (or the
//! connection is refused by the HTTP layer), never a 500, and the service keeps answering.

use crate::common::Stack;

async fn probe(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_headers_and_urls_are_refused_without_harm() {
    let s = Stack::start().await;
    let http = s.http();
    let services = [
        format!("{}/password?name=x", s.dev.credstore_url()),
        format!("{}/token_keys", s.dev.xsuaa_url()),
        format!(
            "{}/?Action=GetCallerIdentity&Version=2011-06-15",
            s.dev.sts_url()
        ),
        format!("{}/bridge-documents/README.txt", s.dev.s3_url()),
    ];
    let big = "a".repeat(1 << 20);
    for url in &services {
        // A 1 MiB header.
        let r = http.get(url).header("x-amz-meta-big", &big).send().await;
        if let Ok(r) = r {
            let status = r.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{url}: huge header → {status}"
            );
        }
        // A 64 KiB URL.
        let long = format!("{url}&pad={}", "b".repeat(64 * 1024));
        if let Some(status) = probe(&http, &long).await {
            assert!((400..500).contains(&status), "{url}: long URL → {status}");
        }
        // Still alive: a normal request gets a normal (possibly 4xx: unauthenticated) answer.
        let status = probe(&http, url).await.expect("service still answers");
        assert!(status < 500, "{url}: after abuse → {status}");
    }
    s.dev.stop().await;
}
