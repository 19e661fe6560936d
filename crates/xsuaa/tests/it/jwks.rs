//! The JWKS cache (freshness, single flight, stale serving, bounded zones) over an in-memory
//! fetcher under paused time, and the HTTP fetcher against a local `token_keys` endpoint.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use xsuaa::error::ValidationError as E;
use xsuaa::jwks::{HttpJwksFetcher, JwksCache, JwksFetcher, JwksOptions, KeySource};
use xsuaa::validate::Validator;

use crate::util::{MemoryFetcher, Mint, NOW_MS, UAADOMAIN, ZID, config, jwk_set, jwks_json};

fn cache(fetcher: &Arc<MemoryFetcher>, options: JwksOptions) -> Arc<JwksCache> {
    Arc::new(JwksCache::with_fetcher(fetcher.clone(), options))
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_share_one_fetch() {
    let fetcher = MemoryFetcher::new(jwk_set());
    *fetcher.latency.lock().unwrap() = Duration::from_millis(100);
    let cache = cache(&fetcher, JwksOptions::default());
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.keys(Some(ZID)).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().keys.len(), 5);
    }
    assert_eq!(cache.fetches(), 1);
    assert_eq!(fetcher.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_set_is_fresh_for_fifteen_minutes() {
    let fetcher = MemoryFetcher::new(jwk_set());
    let cache = cache(&fetcher, JwksOptions::default());
    cache.keys(Some(ZID)).await.unwrap();
    tokio::time::advance(Duration::from_secs(15 * 60 - 1)).await;
    cache.keys(Some(ZID)).await.unwrap();
    assert_eq!(cache.fetches(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    cache.keys(Some(ZID)).await.unwrap();
    assert_eq!(cache.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn failures_keep_serving_the_cached_set_for_a_bounded_time() {
    let fetcher = MemoryFetcher::new(jwk_set());
    let cache = cache(&fetcher, JwksOptions::default());
    cache.keys(Some(ZID)).await.unwrap();
    fetcher.set_fail(true);

    tokio::time::advance(Duration::from_secs(16 * 60)).await;
    assert_eq!(cache.keys(Some(ZID)).await.unwrap().keys.len(), 5);
    assert_eq!(cache.fetches(), 2);
    // Retries after a failure wait for the refetch interval; meanwhile the set is served.
    for _ in 0..10 {
        cache.keys(Some(ZID)).await.unwrap();
        cache.refresh(Some(ZID)).await.unwrap();
    }
    assert_eq!(cache.fetches(), 2);
    tokio::time::advance(Duration::from_secs(31)).await;
    cache.keys(Some(ZID)).await.unwrap();
    assert_eq!(cache.fetches(), 3);

    // Fetched at 0; servable until 15 + 45 minutes.
    tokio::time::advance(Duration::from_secs(44 * 60)).await;
    let err = cache.keys(Some(ZID)).await.unwrap_err();
    assert!(matches!(err, E::KeysUnavailable(_)), "{err:?}");

    fetcher.set_fail(false);
    tokio::time::advance(Duration::from_secs(31)).await;
    cache.keys(Some(ZID)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn waiters_share_a_failed_fetch_and_the_next_request_retries() {
    let fetcher = MemoryFetcher::new(jwk_set());
    fetcher.set_fail(true);
    *fetcher.latency.lock().unwrap() = Duration::from_millis(100);
    let cache = cache(&fetcher, JwksOptions::default());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.keys(None).await })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Err(E::KeysUnavailable(_))));
    }
    assert_eq!(fetcher.calls(), 1);
    assert_eq!(fetcher.calls.lock().unwrap()[0], None);

    fetcher.set_fail(false);
    cache.keys(None).await.unwrap();
    assert_eq!(fetcher.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn zones_are_cached_separately_and_bounded() {
    let fetcher = MemoryFetcher::new(jwk_set());
    let options = JwksOptions {
        max_new_zone_fetches: 3,
        max_zones: 4,
        ..JwksOptions::default()
    };
    let cache = cache(&fetcher, options);
    for zid in ["z1", "z2", "z1", "z2", "z3"] {
        cache.keys(Some(zid)).await.unwrap();
    }
    assert_eq!(cache.fetches(), 3);
    // A fourth new zone within the window is refused without a fetch, as the client's
    // problem (the zone is the unverified token's claim; issue 12).
    let err = cache.keys(Some("z4")).await.unwrap_err();
    assert_eq!(err, E::ZoneNotAdmitted);
    assert!(err.is_client_error());
    assert_eq!(cache.fetches(), 3);
    // Known zones are unaffected.
    cache.keys(Some("z1")).await.unwrap();

    tokio::time::advance(Duration::from_secs(31)).await;
    cache.keys(Some("z4")).await.unwrap();
    assert_eq!(cache.fetches(), 4);

    // Four zones hold sets: a fifth is refused outright.
    tokio::time::advance(Duration::from_secs(31)).await;
    let err = cache.keys(Some("z5")).await.unwrap_err();
    assert!(matches!(err, E::KeysUnavailable(_)), "{err:?}");
    assert_eq!(cache.fetches(), 4);
}

#[tokio::test(start_paused = true)]
async fn zones_without_a_set_are_forgotten_first() {
    let fetcher = MemoryFetcher::new(jwk_set());
    fetcher.set_fail(true);
    let options = JwksOptions {
        max_zones: 2,
        ..JwksOptions::default()
    };
    let cache = cache(&fetcher, options);
    for zid in ["bad-1", "bad-2", "bad-3", "bad-4"] {
        assert!(cache.keys(Some(zid)).await.is_err());
    }
    assert_eq!(
        cache.fetches(),
        4,
        "garbage zones do not fill the cache for good"
    );
    fetcher.set_fail(false);
    cache.keys(Some(ZID)).await.unwrap();
}

/// A local `/token_keys` that records the `zid` it was asked for.
struct KeyServer {
    url: String,
    zids: Arc<Mutex<Vec<Option<String>>>>,
    status: Arc<Mutex<(u16, String)>>,
}

async fn key_server() -> KeyServer {
    #[derive(Clone)]
    struct St {
        zids: Arc<Mutex<Vec<Option<String>>>>,
        status: Arc<Mutex<(u16, String)>>,
    }
    async fn token_keys(
        State(st): State<St>,
        Query(q): Query<std::collections::HashMap<String, String>>,
    ) -> impl IntoResponse {
        st.zids.lock().unwrap().push(q.get("zid").cloned());
        let (status, body) = st.status.lock().unwrap().clone();
        (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            body,
        )
    }
    let st = St {
        zids: Arc::default(),
        status: Arc::new(Mutex::new((200, jwks_json().to_string()))),
    };
    let app = axum::Router::new()
        .route("/token_keys", axum::routing::get(token_keys))
        .with_state(st.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token_keys", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    KeyServer {
        url,
        zids: st.zids,
        status: st.status,
    }
}

#[tokio::test]
async fn http_fetcher_asks_token_keys_with_the_zone() {
    let server = key_server().await;
    let fetcher =
        HttpJwksFetcher::with_url(server.url.parse().unwrap(), &JwksOptions::default()).unwrap();
    let set = fetcher.fetch(Some(ZID)).await.unwrap();
    assert_eq!(set.keys.len(), 5);
    fetcher.fetch(None).await.unwrap();
    assert_eq!(*server.zids.lock().unwrap(), [Some(ZID.to_owned()), None]);

    *server.status.lock().unwrap() = (400, "{}".into());
    assert_eq!(
        fetcher.fetch(Some("other")).await.unwrap_err(),
        E::WrongAudience
    );
    *server.status.lock().unwrap() = (500, "{\"error\":\"boom\"}".into());
    let err = fetcher.fetch(Some(ZID)).await.unwrap_err();
    assert!(
        matches!(&err, E::KeysUnavailable(m) if m.contains("HTTP 500")),
        "{err:?}"
    );
    *server.status.lock().unwrap() = (200, "<html>".into());
    let err = fetcher.fetch(Some(ZID)).await.unwrap_err();
    assert!(
        matches!(&err, E::KeysUnavailable(m) if m.contains("not JSON")),
        "{err:?}"
    );
}

#[tokio::test]
async fn validator_end_to_end_over_http() {
    let server = key_server().await;
    let fetcher =
        HttpJwksFetcher::with_url(server.url.parse().unwrap(), &JwksOptions::default()).unwrap();
    let cache = Arc::new(JwksCache::with_fetcher(
        Arc::new(fetcher),
        JwksOptions::default(),
    ));
    let v = Validator::new(config(), cache.clone()).with_clock(Arc::new(|| NOW_MS));
    // The token's jku points elsewhere; it is ignored.
    let token = Mint::cc()
        .header("jku", "https://evil.example/token_keys")
        .sign();
    v.validate(&token).await.unwrap();
    v.validate(&Mint::cc().alg("ES512").sign()).await.unwrap();
    assert_eq!(cache.fetches(), 1);
    assert_eq!(*server.zids.lock().unwrap(), [Some(ZID.to_owned())]);
}

#[tokio::test]
async fn production_cache_fetches_over_https_from_uaadomain_with_extra_roots() {
    let zids: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = zids.clone();
    let app = axum::Router::new().route(
        "/token_keys",
        axum::routing::get(
            move |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                seen.lock().unwrap().push(q.get("zid").cloned());
                axum::Json(jwks_json())
            },
        ),
    );
    let (addr, ca_pem) = crate::util::serve_tls(app, None).await;
    let options = JwksOptions {
        extra_roots_pem: vec![ca_pem],
        ..JwksOptions::default()
    };
    // `uaadomain` as a bare host:port (https is implied), and as an https:// URL.
    for uaadomain in [addr.to_string(), format!("https://{addr}")] {
        let cache = Arc::new(JwksCache::new(&uaadomain, options.clone()).unwrap());
        let v = Validator::new(config(), cache).with_clock(Arc::new(|| NOW_MS));
        v.validate(&Mint::cc().sign()).await.unwrap();
    }
    assert_eq!(zids.lock().unwrap().len(), 2);
    // Without the extra root the certificate is not trusted: keys unavailable, not a 401.
    let untrusted = Arc::new(JwksCache::new(&addr.to_string(), JwksOptions::default()).unwrap());
    let v = Validator::new(config(), untrusted).with_clock(Arc::new(|| NOW_MS));
    let err = v.validate(&Mint::cc().sign()).await.unwrap_err();
    assert!(matches!(err, E::KeysUnavailable(_)), "{err:?}");
}

#[tokio::test]
async fn unreachable_key_server_is_keys_unavailable() {
    // Bind and drop: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fetcher = HttpJwksFetcher::with_url(
        format!("http://127.0.0.1:{port}/token_keys")
            .parse()
            .unwrap(),
        &JwksOptions::default(),
    )
    .unwrap();
    let err = fetcher.fetch(Some(ZID)).await.unwrap_err();
    assert!(
        matches!(&err, E::KeysUnavailable(m) if m.contains("unreachable")),
        "{err:?}"
    );
    assert!(!err.is_client_error());
}

#[test]
fn production_fetcher_uses_uaadomain_over_https() {
    let fetcher = HttpJwksFetcher::new(UAADOMAIN, &JwksOptions::default()).unwrap();
    assert_eq!(
        fetcher.url().as_str(),
        format!("https://{UAADOMAIN}/token_keys")
    );
    assert!(HttpJwksFetcher::new("http://localhost:8080", &JwksOptions::default()).is_err());
    let bad_roots = JwksOptions {
        extra_roots_pem: vec![b"not a pem".to_vec()],
        ..JwksOptions::default()
    };
    assert!(JwksCache::new(UAADOMAIN, bad_roots).is_err());
}
