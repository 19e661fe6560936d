//! [`RoleCredentials`]: temporary credentials from STS AssumeRole, behind our own explicit
//! cache, and the [`AssumeRoleApi`] seam it calls.
//!
//! **Why not aws-config's `AssumeRoleProvider`:** that provider does not cache at all; caching
//! is left to the lazy identity cache of whichever SDK client consumes it, which refreshes only
//! lazily, 10 s (minus jitter) before expiry, with no backoff after failures, no way to keep
//! serving still-valid credentials through an STS outage, and no counters to watch (see its
//! source, <https://docs.rs/crate/aws-config/latest/source/src/sts/assume_role.rs>; users have
//! hit inconsistent caching around it, awslabs/aws-sdk-rust issues #809 and #629).
//! Our rules are explicit, and each is tested under a paused `tokio` clock:
//!
//! - **Serve from cache** while more than the refresh margin (`refreshMarginSeconds`, default
//!   300 s) is left.
//! - **Refresh ahead of expiry, single flight.** Inside the margin, the first caller to find the
//!   credentials stale refreshes them; every other caller meanwhile keeps getting the
//!   still-valid ones without waiting. When nothing valid is cached, callers wait for the one
//!   refresh in flight and share its result: one AssumeRole however many callers arrive.
//! - **Outage.** A failed refresh while the credentials are still valid is logged (warn) and
//!   the valid ones are served; the next attempt waits for an exponential backoff (1 s doubling
//!   to 60 s by default, each delay jittered to 50–100 %), so STS is not hammered.
//! - **Never expired.** Credentials count as expired `expiry_buffer` (default 15 s) before
//!   their `Expiration`, so a request signed now still reaches AWS in time. Without valid
//!   credentials a caller gets the error: the refresh's own error (which keeps the STS error
//!   code, [`Error::sts_code`]) or, during backoff, [`Error::Unavailable`] wrapping it.
//! - **Observable.** [`RoleCredentials::expiry`], [`RoleCredentials::refreshes`],
//!   [`RoleCredentials::failures`] and [`RoleCredentials::status`] feed health checks and
//!   metrics.
//!
//! SDK clients get it as their credentials provider ([`ProvideCredentials`]) with the SDK's
//! own identity cache switched off ([`crate::s3`] does this), so this is the only cache.
//!
//! Time is `tokio::time` (for the cache's decisions) plus the wall clock once per refresh (to
//! turn STS's `Expiration` into a deadline), so tests pause and advance the clock.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};
use tokio::time::Instant;

use crate::error::Error;
use crate::settings::AwsSettings;

/// What to ask STS for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `ExternalId`, if the trust policy requires one.
    pub external_id: Option<String>,
    /// `DurationSeconds`.
    pub duration: Duration,
}

impl AssumeRoleRequest {
    /// The request the settings describe.
    pub fn from_settings(settings: &AwsSettings) -> Self {
        Self {
            role_arn: settings.role_arn.clone(),
            session_name: settings.role_session_name.clone(),
            external_id: settings.external_id.clone(),
            duration: settings.session_duration,
        }
    }
}

/// The STS AssumeRole call, as a seam: [`crate::sts::StsAssumeRole`] calls STS with the SDK,
/// tests use a fake that counts calls and can fail on demand.
#[async_trait]
pub trait AssumeRoleApi: Send + Sync {
    /// Calls AssumeRole once (the SDK may retry inside). The credentials must carry an expiry.
    async fn assume_role(&self, request: &AssumeRoleRequest) -> Result<Credentials, Error>;
}

/// How the cache behaves. `Default` is the production setting except for the margin, which
/// comes from the settings ([`RefreshOptions::from_settings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshOptions {
    /// Refresh when less than this is left before expiry.
    pub refresh_margin: Duration,
    /// Treat credentials as expired this long before their `Expiration`.
    pub expiry_buffer: Duration,
    /// The first backoff delay after a failed refresh.
    pub backoff_initial: Duration,
    /// The longest backoff delay.
    pub backoff_max: Duration,
    /// Deadline for one AssumeRole call, on top of the SDK's own timeouts.
    pub call_timeout: Duration,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        Self {
            refresh_margin: crate::settings::DEFAULT_REFRESH_MARGIN,
            expiry_buffer: Duration::from_secs(15),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            call_timeout: Duration::from_secs(30),
        }
    }
}

impl RefreshOptions {
    /// The defaults, with the settings' `refreshMarginSeconds`.
    pub fn from_settings(settings: &AwsSettings) -> Self {
        Self {
            refresh_margin: settings.refresh_margin,
            ..Self::default()
        }
    }

    /// The backoff before attempt `failures + 1`, jittered to 50–100 % of the exponential delay.
    fn backoff(&self, failures: u32, random: u64) -> Duration {
        let exp = self
            .backoff_initial
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.backoff_max);
        let half = exp / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
    }
}

/// A snapshot for health checks and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialStatus {
    /// When the cached credentials expire (STS's `Expiration`), if there are any.
    pub expiry: Option<SystemTime>,
    /// Whether the cached credentials may still be served.
    pub valid: bool,
    /// Successful AssumeRole calls so far.
    pub refreshes: u64,
    /// Failed AssumeRole calls so far.
    pub failures: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The STS error code of the last failure since the last success, if STS refused.
    pub last_error_code: Option<String>,
}

struct Cached {
    credentials: Credentials,
    /// Serve until here (tokio clock), i.e. `Expiration` minus the expiry buffer.
    valid_until: Instant,
}

#[derive(Default)]
struct State {
    current: Option<Cached>,
    /// No new attempt before this (set after a failure).
    retry_at: Option<Instant>,
    consecutive_failures: u32,
    last_error: Option<Error>,
}

struct Inner {
    api: Arc<dyn AssumeRoleApi>,
    request: AssumeRoleRequest,
    options: RefreshOptions,
    state: Mutex<State>,
    /// Held by the one caller that is refreshing: the single-flight gate.
    refresh: tokio::sync::Mutex<()>,
    refreshes: AtomicU64,
    failures: AtomicU64,
    random: RandomState,
}

/// Temporary credentials for one role, cached and refreshed as the module doc describes.
/// Cheap to clone (shared state); clones share one cache.
#[derive(Clone)]
pub struct RoleCredentials {
    inner: Arc<Inner>,
}

impl fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("role_arn", &self.inner.request.role_arn)
            .field("session_name", &self.inner.request.session_name)
            .field("expiry", &self.expiry())
            .field("refreshes", &self.refreshes())
            .field("failures", &self.failures())
            .finish_non_exhaustive()
    }
}

/// What the cache holds right now, relative to `now`.
enum Look {
    /// More than the margin left: serve.
    Fresh(Credentials),
    /// Valid, but inside the refresh margin.
    Stale(Credentials),
    /// Nothing valid.
    Empty,
}

impl RoleCredentials {
    /// A cache that calls `api` for `request`.
    pub fn new(
        api: Arc<dyn AssumeRoleApi>,
        request: AssumeRoleRequest,
        options: RefreshOptions,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                request,
                options,
                state: Mutex::new(State::default()),
                refresh: tokio::sync::Mutex::new(()),
                refreshes: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                random: RandomState::new(),
            }),
        }
    }

    /// Valid temporary credentials: cached, or from a refresh (see the module doc).
    pub async fn credentials(&self) -> Result<Credentials, Error> {
        match self.look(Instant::now()) {
            Look::Fresh(c) => Ok(c),
            Look::Stale(c) => {
                // Someone else is refreshing: what we have is still valid, so don't wait.
                let Ok(_gate) = self.inner.refresh.try_lock() else {
                    return Ok(c);
                };
                match self.look(Instant::now()) {
                    Look::Fresh(c) => Ok(c),
                    Look::Stale(c) if self.backing_off(Instant::now()).is_some() => Ok(c),
                    Look::Stale(_) => match self.refresh().await {
                        Ok(fresh) => Ok(fresh),
                        // Already counted and logged. What we had may still be valid, unless
                        // the failed call took longer than what was left.
                        Err(err) => self.valid_now().ok_or(err),
                    },
                    Look::Empty => self.refresh_or_backoff().await,
                }
            }
            Look::Empty => {
                if let Some(err) = self.backing_off(Instant::now()) {
                    return Err(err);
                }
                // Wait for the refresh in flight, if any, then look again: its result is ours.
                let _gate = self.inner.refresh.lock().await;
                match self.look(Instant::now()) {
                    Look::Fresh(c) | Look::Stale(c) => Ok(c),
                    Look::Empty => self.refresh_or_backoff().await,
                }
            }
        }
    }

    /// When the cached credentials expire (STS's `Expiration`), if there are any.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.state()
            .current
            .as_ref()
            .and_then(|c| c.credentials.expiry())
    }

    /// Successful AssumeRole calls so far.
    pub fn refreshes(&self) -> u64 {
        self.inner.refreshes.load(Ordering::SeqCst)
    }

    /// Failed AssumeRole calls so far.
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::SeqCst)
    }

    /// A snapshot of the cache for health checks.
    pub fn status(&self) -> CredentialStatus {
        let now = Instant::now();
        let state = self.state();
        CredentialStatus {
            expiry: state.current.as_ref().and_then(|c| c.credentials.expiry()),
            valid: state.current.as_ref().is_some_and(|c| now < c.valid_until),
            refreshes: self.refreshes(),
            failures: self.failures(),
            consecutive_failures: state.consecutive_failures,
            last_error_code: state
                .last_error
                .as_ref()
                .and_then(|e| e.sts_code().map(str::to_owned)),
        }
    }

    /// The role these credentials are for.
    pub fn role_arn(&self) -> &str {
        &self.inner.request.role_arn
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn look(&self, now: Instant) -> Look {
        let state = self.state();
        match &state.current {
            Some(c) if now + self.inner.options.refresh_margin < c.valid_until => {
                Look::Fresh(c.credentials.clone())
            }
            Some(c) if now < c.valid_until => Look::Stale(c.credentials.clone()),
            _ => Look::Empty,
        }
    }

    fn valid_now(&self) -> Option<Credentials> {
        let now = Instant::now();
        let state = self.state();
        state
            .current
            .as_ref()
            .filter(|c| now < c.valid_until)
            .map(|c| c.credentials.clone())
    }

    /// While backing off: the error to give callers that have nothing valid.
    fn backing_off(&self, now: Instant) -> Option<Error> {
        let state = self.state();
        match (state.retry_at, &state.last_error) {
            (Some(at), Some(last)) if now < at => Some(Error::Unavailable {
                retry_in_ms: u64::try_from((at - now).as_millis()).unwrap_or(u64::MAX),
                last: Box::new(last.clone()),
            }),
            _ => None,
        }
    }

    /// With the gate held and nothing valid cached.
    async fn refresh_or_backoff(&self) -> Result<Credentials, Error> {
        if let Some(err) = self.backing_off(Instant::now()) {
            return Err(err);
        }
        self.refresh().await
    }

    /// One AssumeRole call; the caller holds the gate. Records the outcome.
    async fn refresh(&self) -> Result<Credentials, Error> {
        let inner = &self.inner;
        let request = &inner.request;
        let started = Instant::now();
        let result =
            match tokio::time::timeout(inner.options.call_timeout, inner.api.assume_role(request))
                .await
            {
                Ok(Ok(creds)) => match creds.expiry() {
                    Some(expiry) => Ok((creds, expiry)),
                    None => Err(Error::StsResponse {
                        endpoint: "AssumeRole".into(),
                        reason: "the credentials carry no expiration".into(),
                    }),
                },
                Ok(Err(e)) => Err(e),
                Err(_) => Err(Error::Timeout {
                    role_arn: request.role_arn.clone(),
                    timeout_ms: u64::try_from(inner.options.call_timeout.as_millis())
                        .unwrap_or(u64::MAX),
                }),
            };
        let now = Instant::now();
        let took_ms = u64::try_from((now - started).as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok((creds, expiry)) => {
                // The one place the wall clock is read: STS's Expiration becomes a deadline
                // on the tokio clock.
                let left = expiry
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                let valid_until = now + left.saturating_sub(inner.options.expiry_buffer);
                {
                    let mut state = self.state();
                    state.current = Some(Cached {
                        credentials: creds.clone(),
                        valid_until,
                    });
                    state.retry_at = None;
                    state.consecutive_failures = 0;
                    state.last_error = None;
                }
                inner.refreshes.fetch_add(1, Ordering::SeqCst);
                tracing::info!(
                    aws.role_arn = %request.role_arn,
                    aws.session_name = %request.session_name,
                    valid_for_s = left.as_secs(),
                    duration_ms = took_ms,
                    "assumed AWS role"
                );
                if valid_until <= now + inner.options.refresh_margin {
                    tracing::warn!(
                        aws.role_arn = %request.role_arn,
                        valid_for_s = left.as_secs(),
                        refresh_margin_s = inner.options.refresh_margin.as_secs(),
                        "STS issued credentials that are already inside the refresh margin; \
                         lower refreshMarginSeconds or raise sessionDurationSeconds"
                    );
                }
                Ok(creds)
            }
            Err(err) => {
                inner.failures.fetch_add(1, Ordering::SeqCst);
                let (delay, still_valid) = {
                    let mut state = self.state();
                    state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                    let mut hasher = inner.random.build_hasher();
                    hasher.write_u64(inner.failures.load(Ordering::SeqCst));
                    let delay = inner
                        .options
                        .backoff(state.consecutive_failures, hasher.finish());
                    state.retry_at = Some(now + delay);
                    state.last_error = Some(err.clone());
                    let still_valid = state.current.as_ref().is_some_and(|c| now < c.valid_until);
                    (delay, still_valid)
                };
                let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                if still_valid {
                    tracing::warn!(
                        aws.role_arn = %request.role_arn,
                        error = %err,
                        retry_in_ms,
                        "refreshing AWS credentials failed; serving the cached ones while they are valid"
                    );
                } else {
                    tracing::error!(
                        aws.role_arn = %request.role_arn,
                        error = %err,
                        retry_in_ms,
                        "refreshing AWS credentials failed; no valid credentials"
                    );
                }
                Err(err)
            }
        }
    }
}

impl ProvideCredentials for RoleCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.credentials()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let o = RefreshOptions::default();
        for (failures, full) in [(1, 1), (2, 2), (3, 4), (7, 60), (30, 60)] {
            let full = Duration::from_secs(full);
            assert_eq!(o.backoff(failures, 0), full / 2, "failures={failures}");
            for r in [1, 7, 123_456_789, u64::MAX / 3, u64::MAX] {
                let d = o.backoff(failures, r);
                assert!(d >= full / 2 && d <= full, "failures={failures}: {d:?}");
            }
        }
    }
}

/// An [`AssumeRoleApi`] that answers every call with fixed, fake temporary credentials valid
/// for the requested duration: for tests of code that needs a [`RoleCredentials`] but no STS
/// (the app's in-process route tests). Never use it against a real service.
#[derive(Debug, Default)]
pub struct StaticAssumeRole {
    calls: std::sync::atomic::AtomicU64,
}

impl StaticAssumeRole {
    /// A fake; [`RoleCredentials::new`] takes it.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many AssumeRole calls it answered.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait]
impl AssumeRoleApi for StaticAssumeRole {
    async fn assume_role(&self, request: &AssumeRoleRequest) -> Result<Credentials, Error> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Credentials::new(
            "ASIATESTTESTTESTTEST",
            "test-secret-access-key",
            Some("test-session-token".to_owned()),
            Some(SystemTime::now() + request.duration),
            "static-test",
        ))
    }
}

impl AssumeRoleRequest {
    /// A request for `role_arn` with the defaults (session `btp-aws-bridge`, one hour): for
    /// tests.
    pub fn for_role(role_arn: impl Into<String>) -> Self {
        Self {
            role_arn: role_arn.into(),
            session_name: "btp-aws-bridge".to_owned(),
            external_id: None,
            duration: Duration::from_secs(3600),
        }
    }
}
