//! `RoleCredentials` with the counting fake STS, under a paused tokio clock: single flight,
//! refresh ahead of expiry, outages with backoff, never an expired credential.

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use awslink::{AssumeRoleRequest, Error, RefreshOptions, RoleCredentials};
use tokio::time::{Instant, advance};

use crate::common::{FakeSts, Mode};

const HOUR: Duration = Duration::from_secs(3600);
const MARGIN: Duration = Duration::from_secs(300);
const BUFFER: Duration = Duration::from_secs(15);

fn request() -> AssumeRoleRequest {
    AssumeRoleRequest {
        role_arn: "arn:aws:iam::123456789012:role/btp-s3-access".into(),
        session_name: "btp-aws-bridge".into(),
        external_id: None,
        duration: HOUR,
    }
}

fn cache(sts: &Arc<FakeSts>) -> RoleCredentials {
    testkit::logs::init();
    RoleCredentials::new(
        sts.clone(),
        request(),
        RefreshOptions {
            refresh_margin: MARGIN,
            expiry_buffer: BUFFER,
            ..RefreshOptions::default()
        },
    )
}

/// Asserts the credentials are ones the fake issued and still valid on the tokio clock.
fn assert_valid(sts: &FakeSts, creds: &aws_credential_types::Credentials) {
    let until = sts.valid_until(creds.access_key_id());
    assert!(
        Instant::now() < until,
        "served {} after it expired",
        creds.access_key_id()
    );
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_callers_cause_one_assume_role() {
    let sts = FakeSts::new(HOUR, Duration::from_millis(200));
    let creds = cache(&sts);
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let creds = creds.clone();
            tokio::spawn(async move { creds.provide_credentials().await })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let c = t.await.unwrap().unwrap();
        assert_valid(&sts, &c);
        ids.insert(c.access_key_id().to_owned());
    }
    assert_eq!(sts.calls(), 1);
    assert_eq!(ids.len(), 1, "everyone got the same credentials");
    assert_eq!((creds.refreshes(), creds.failures()), (1, 0));
    assert!(creds.expiry().is_some());
}

#[tokio::test(start_paused = true)]
async fn serves_from_cache_until_the_margin() {
    let sts = FakeSts::new(HOUR, Duration::from_millis(50));
    let creds = cache(&sts);
    let first = creds.credentials().await.unwrap();
    // Valid for 3600 - 15 s; refreshed when less than 300 s of that is left.
    advance(HOUR - BUFFER - MARGIN - Duration::from_secs(1)).await;
    let same = creds.credentials().await.unwrap();
    assert_eq!(same.access_key_id(), first.access_key_id());
    assert_eq!(sts.calls(), 1);
    advance(Duration::from_secs(2)).await;
    let next = creds.credentials().await.unwrap();
    assert_ne!(next.access_key_id(), first.access_key_id());
    assert_eq!(sts.calls(), 2);
    assert_eq!(creds.refreshes(), 2);
}

/// Inside the margin one caller refreshes while the others keep getting the still-valid
/// credentials without waiting; nobody, at any moment over several sessions, gets an expired one.
#[tokio::test(start_paused = true)]
async fn refreshes_ahead_of_expiry_and_never_serves_expired() {
    let sts = FakeSts::new(HOUR, Duration::from_secs(2));
    let creds = cache(&sts);
    let start = Instant::now();
    while Instant::now() < start + 4 * HOUR {
        // A burst of concurrent callers every 7 s.
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let creds = creds.clone();
                tokio::spawn(async move {
                    let asked = Instant::now();
                    let c = creds.credentials().await.unwrap();
                    (c, asked.elapsed())
                })
            })
            .collect();
        for t in tasks {
            let (c, waited) = t.await.unwrap();
            assert_valid(&sts, &c);
            if creds.refreshes() > 1 {
                // Only the very first fetch makes callers wait; refreshes happen while the old
                // credentials still serve (the refreshing caller itself waits for STS).
                assert!(waited <= Duration::from_secs(2), "waited {waited:?}");
            }
        }
        advance(Duration::from_secs(7)).await;
    }
    // One fetch per (3600 - 15 - 300) s of clock.
    let calls = sts.calls();
    assert!((4..=5).contains(&calls), "{calls} AssumeRole calls in 4 h");
    assert_eq!(creds.failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn outage_while_valid_serves_cached_backs_off_and_recovers() {
    let sts = FakeSts::new(HOUR, Duration::from_millis(100));
    let creds = cache(&sts);
    let first = creds.credentials().await.unwrap();
    // Into the margin, STS down.
    advance(HOUR - BUFFER - MARGIN + Duration::from_secs(1)).await;
    sts.set(Mode::Down);
    let entered = Instant::now();
    let mut served = 0;
    // Ask every second for 250 s (well inside the 300 s still valid).
    while Instant::now() < entered + Duration::from_secs(250) {
        let c = creds.credentials().await.unwrap();
        assert_eq!(c.access_key_id(), first.access_key_id());
        assert_valid(&sts, &c);
        served += 1;
        advance(Duration::from_secs(1)).await;
    }
    // Backoff 1, 2, 4, 8, 16, 32, 60, 60 … s, each jittered to 50-100 %: far fewer than one
    // attempt per request. Without backoff this would be 250.
    let failed = sts.calls() - 1;
    assert!(
        (6..=15).contains(&failed),
        "{failed} attempts during the outage"
    );
    assert_eq!(creds.failures(), failed);
    assert!(served >= 240);
    let status = creds.status();
    assert!(status.valid);
    assert_eq!(status.consecutive_failures, u32::try_from(failed).unwrap());

    // STS is back. The next attempt comes when the backoff allows (at most 60 s after the
    // last one); until then the old credentials serve while valid, and once they have
    // expired callers fail fast (never an expired credential).
    sts.set(Mode::Up);
    let mut fresh = None;
    for _ in 0..70 {
        advance(Duration::from_secs(1)).await;
        match creds.credentials().await {
            Ok(c) if c.access_key_id() != first.access_key_id() => {
                fresh = Some(c);
                break;
            }
            Ok(c) => assert_valid(&sts, &c),
            Err(err) => assert!(matches!(err, Error::Unavailable { .. }), "{err:?}"),
        }
    }
    let fresh = fresh.expect("recovered within 70 s");
    assert_valid(&sts, &fresh);
    assert_eq!(creds.status().consecutive_failures, 0);
    assert_eq!(creds.refreshes(), 2);
}

#[tokio::test(start_paused = true)]
async fn outage_after_expiry_is_an_error_with_the_sts_code() {
    let sts = FakeSts::new(HOUR, Duration::from_millis(100));
    let creds = cache(&sts);
    creds.credentials().await.unwrap();
    sts.set(Mode::Refuse("ExpiredToken"));
    // Past the expiry (minus buffer): nothing valid is left.
    advance(HOUR).await;
    let err = creds.credentials().await.unwrap_err();
    assert_eq!(err.sts_code(), Some("ExpiredToken"), "{err}");
    assert!(matches!(err, Error::Sts { .. }), "{err:?}");
    assert!(!err.to_string().contains("fake-secret") && !err.to_string().contains("fake-token"));
    // During the backoff, callers fail fast with the same code, without calling STS.
    let calls = sts.calls();
    let err = creds.credentials().await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert_eq!(err.sts_code(), Some("ExpiredToken"));
    assert_eq!(sts.calls(), calls);
    assert_eq!(
        creds.status().last_error_code.as_deref(),
        Some("ExpiredToken")
    );
    assert!(!creds.status().valid);
    // Through the SDK's interface it is a provider error whose text keeps the code.
    let sdk_err = creds.provide_credentials().await.unwrap_err();
    assert!(
        format!("{}", aws_sdk_s3::error::DisplayErrorContext(&sdk_err)).contains("ExpiredToken"),
        "{sdk_err:?}"
    );
    // After the backoff the next caller tries again; STS is back.
    sts.set(Mode::Up);
    advance(Duration::from_secs(2)).await;
    let c = creds.credentials().await.unwrap();
    assert_valid(&sts, &c);
}

#[tokio::test(start_paused = true)]
async fn waiters_share_a_failed_refresh() {
    let sts = FakeSts::new(HOUR, Duration::from_millis(500));
    sts.set(Mode::Refuse("AccessDenied"));
    let creds = cache(&sts);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let creds = creds.clone();
            tokio::spawn(async move { creds.credentials().await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert_eq!(err.sts_code(), Some("AccessDenied"), "{err}");
        assert!(!err.is_transient());
    }
    assert_eq!(
        sts.calls(),
        1,
        "one refresh for all waiters, none during the backoff"
    );
    assert_eq!(creds.failures(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_sts_call_times_out() {
    let sts = FakeSts::new(HOUR, Duration::from_secs(3600));
    let creds = RoleCredentials::new(
        sts.clone(),
        request(),
        RefreshOptions {
            call_timeout: Duration::from_secs(5),
            ..RefreshOptions::default()
        },
    );
    let err = creds.credentials().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                timeout_ms: 5000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[tokio::test(start_paused = true)]
async fn debug_shows_no_secret() {
    let sts = FakeSts::new(HOUR, Duration::ZERO);
    let creds = cache(&sts);
    let c = creds.credentials().await.unwrap();
    let text = format!("{creds:?} {c:?}");
    assert!(text.contains("btp-s3-access"), "{text}");
    assert!(
        !text.contains("fake-secret") && !text.contains("fake-token"),
        "{text}"
    );
}
