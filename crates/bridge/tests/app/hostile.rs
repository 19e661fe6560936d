//! The app against hostile clients over real sockets (issue 12): each defect found by probing
//! it as an attacker would, as a regression test, plus floods that assert what a client can
//! make the server keep stays bounded: state before sign-in, connections. The floods that need
//! no socket (metric series, key ids, sessions) are in `inproc::hostile`.

use std::time::Duration;

use reqwest::header::COOKIE;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::common::Setup;
use crate::login::{Browser, location, sign_in_landing};

/// Issue 12, 1: a tab after the first slash made browsers leave the site after sign-in.
#[tokio::test(flavor = "multi_thread")]
async fn issue_12_no_open_redirect_after_sign_in() {
    let s = Setup::start().await;
    for target in [
        "/%09/evil.example",
        "/%5C/evil.example",
        "//evil.example",
        "/%2F%2Fevil.example",
        "https://evil.example/",
    ] {
        let (_, landed) = sign_in_landing(&s, "alice", target).await;
        assert_eq!(landed, "/", "{target}");
    }
    // A real path survives, re-encoded.
    let (_, landed) = sign_in_landing(&s, "alice", "/catalog/Buckets%3F%24top%3D1").await;
    assert_eq!(landed, "/catalog/Buckets?$top=1");
    s.stop().await;
}

/// Issue 12, 2: a newline in the redirect target was a 500 after the session was created.
#[tokio::test(flavor = "multi_thread")]
async fn issue_12_no_500_from_a_redirect_target() {
    let s = Setup::start().await;
    for target in ["/a%0Ab", "/a%0D%0ASet-Cookie:%20x=y", "/%00", "/a%7Fb"] {
        let (_, landed) = sign_in_landing(&s, "alice", target).await;
        assert_eq!(landed, "/", "{target}");
    }
    s.stop().await;
}

/// Issue 12, 4: the redirect is limited in length, with a clear OData 400.
#[tokio::test(flavor = "multi_thread")]
async fn issue_12_overlong_redirects_are_refused() {
    let s = Setup::start().await;
    let long = format!("/{}", "a".repeat(bridge::app::login::MAX_REDIRECT_LEN));
    let r = s
        .http()
        .get(format!("{}/login?redirect={long}", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'redirect' is longer than 2048 bytes"),
        "{body}"
    );
    // The longest allowed one still works, and its cookie stays within what browsers keep.
    let ok = format!("/{}", "a".repeat(bridge::app::login::MAX_REDIRECT_LEN - 1));
    let r = s
        .http()
        .get(format!("{}/login?redirect={ok}", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.len() < 4096, "{} bytes", cookie.len());
    // A page far too long to return to sends the browser to the login without it.
    let r = s
        .http()
        .get(format!("{}/api/me?p={}", s.app, "p".repeat(5000)))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?redirect=%2F");
    s.stop().await;
}

/// Issue 12, 4: a login in progress keeps nothing on the server, so its cookie is the only
/// proof: a forged or altered one is refused; 3 000 unfinished logins with long redirects
/// change nothing for the next user who signs in.
#[tokio::test(flavor = "multi_thread")]
async fn issue_12_logins_in_progress_cost_the_server_nothing() {
    let s = Setup::start().await;
    // Start a login and keep its cookie and state aside.
    let mut b = Browser::new(&s);
    let r = b
        .get(&format!("{}/login?redirect=/api/me", s.app), &[])
        .await;
    let authorize = location(&r);
    let state = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    // A flood of logins that never finish.
    let http = s.http();
    let redirect = format!("/{}", "x".repeat(2000));
    let flood = (0..3000).map(|_| {
        let http = http.clone();
        let url = format!("{}/login?redirect={redirect}", s.app);
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_join(flood, 32).await;
    assert!(statuses.iter().all(|s| *s == 303));
    // The first login's cookie, altered: refused, in the OData error format.
    let sealed = b
        .cookies
        .iter()
        .find(|(k, _)| k == "bridge_login")
        .unwrap()
        .1
        .clone();
    let mut altered = sealed.clone().into_bytes();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for cookie in [altered.as_str(), "forged", ""] {
        let r = http
            .get(format!("{}/login/callback?code=abc&state={state}", s.app))
            .header(COOKIE, format!("bridge_login={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{cookie}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/login")
        );
    }
    let (_, landed) = sign_in_landing(&s, "bob", "/api/me").await;
    assert_eq!(landed, "/api/me");
    s.stop().await;
}

/// Runs `futures` at most `width` at a time.
async fn futures_join<F: std::future::Future<Output = T>, T>(
    futures: impl Iterator<Item = F>,
    width: usize,
) -> Vec<T> {
    use futures::StreamExt as _;
    futures::stream::iter(futures)
        .buffer_unordered(width)
        .collect()
        .await
}

/// Issue 12, 5: connections that never finish their headers are closed.
#[tokio::test(flavor = "multi_thread")]
async fn issue_12_slow_headers_are_closed() {
    let limits = httpserve::Limits {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(800),
        ..bridge::app::server_limits()
    };
    let s = Setup::start_limits(limits).await;
    let addr = s.app.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: ")
            .await
            .unwrap();
        held.push(c);
    }
    let started = Instant::now();
    for c in &mut held {
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf)).await {
                Err(_) => panic!("a slow connection is still open after 10 s"),
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(_)) => {}
            }
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        started.elapsed()
    );
    // The app still answers.
    let r = s
        .http()
        .get(format!("{}/health", s.app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// Issue 12, 5: a half-sent request no longer keeps the app from stopping.
#[tokio::test(flavor = "multi_thread")]
async fn issue_12_a_half_sent_request_does_not_block_shutdown() {
    let limits = httpserve::Limits {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        shutdown_grace: Duration::from_millis(500),
        ..bridge::app::server_limits()
    };
    let mut s = Setup::start_limits(limits).await;
    let addr = s.app.trim_start_matches("http://").to_owned();
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"POST /jobs/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
        .await
        .unwrap();
    let mut headers_only = TcpStream::connect(&addr).await.unwrap();
    headers_only
        .write_all(b"GET /health HTTP/1.1\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = s.stop_app().await;
    assert!(
        took < Duration::from_secs(3),
        "the app took {took:?} to stop"
    );
    s.stop().await;
}
