//! The cold start's secret read against moto's Secrets Manager, a second implementation of the
//! API: the service key comes back whole and drives a real call; a missing secret and a secret
//! that is not a service key are `Caller.Init.Secret` errors naming the secret, not its value.

use std::time::Duration;

use caller::Caller;
use cfenv::Env;

use crate::common::{Moto, Reply, Stack, TargetApp, ctx, ping_input};

#[tokio::test]
async fn the_service_key_is_read_once_at_cold_start_and_used() {
    let stack = Stack::start().await;
    let moto = Moto::start().await;
    moto.create_secret(
        "btp-aws-bridge/caller/xsuaa",
        &stack.service_key().to_string(),
    )
    .await;
    let app = TargetApp::start(vec![Reply::status(200)]).await;
    let mut env = stack.env(&app.url);
    env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), moto.url.clone()));
    let caller = Caller::init(&Env::from_pairs(env.clone())).await.unwrap();
    let report = caller
        .invoke(
            &ping_input("2026-12-02T05:00:00Z", 1),
            &ctx("r", Duration::from_secs(10)),
        )
        .await;
    assert_eq!(report.result.unwrap().status, 200);
    assert!(app.seen()[0].header("authorization").is_some());

    // The wrapped form `{"credentials": …}` too.
    let wrapped = serde_json::json!({"credentials": stack.service_key()}).to_string();
    moto.create_secret("wrapped", &wrapped).await;
    let mut env2 = env.clone();
    env2.push(("BRIDGE_SECRET_ID".into(), "wrapped".into()));
    assert!(Caller::init(&Env::from_pairs(env2)).await.is_ok());

    // A secret that does not exist.
    let mut missing = env.clone();
    missing.push(("BRIDGE_SECRET_ID".into(), "nope".into()));
    let err = Caller::init(&Env::from_pairs(missing)).await.unwrap_err();
    assert_eq!(err.error_type(), "Caller.Init.Secret");
    let text = err.to_string();
    assert!(
        text.starts_with("secret nope: ResourceNotFoundException"),
        "{text}"
    );

    // A secret that is not a service key: named, its value never repeated.
    let value = testkit::logs::secret("not-a-service-key-but-secret-nonetheless");
    moto.create_secret("plain", &value).await;
    let mut plain = env.clone();
    plain.push(("BRIDGE_SECRET_ID".into(), "plain".into()));
    let err = Caller::init(&Env::from_pairs(plain)).await.unwrap_err();
    assert_eq!(err.error_type(), "Caller.Init.Secret");
    assert!(!err.to_string().contains(&value), "{err}");
    assert!(err.to_string().contains("not JSON"), "{err}");

    // Secrets Manager not there.
    let mut down = stack.env(&app.url);
    down.push((
        "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
        "http://127.0.0.1:9".into(),
    ));
    let err = Caller::init(&Env::from_pairs(down)).await.unwrap_err();
    assert_eq!(err.error_type(), "Caller.Init.Secret");
    assert!(err.to_string().contains("unreachable"), "{err}");
}
