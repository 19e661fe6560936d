//! [`Caller`]: one cold start's state (settings, HTTP client, token client) and
//! [`Caller::invoke`], one invocation: parse the event, get a token, call the app with retries
//! inside the deadline, and describe the outcome as the function's result or error plus its one
//! log line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cfenv::{Env, XsuaaBinding};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use xsuaa::client::{ClientOptions, TokenClient};
use xsuaa::error::TokenError;

use crate::error::CallerError;
use crate::event::{self, Invocation, Target};
use crate::log::LogLine;
use crate::retry::{self, Class, Next, Policy};
use crate::settings::Settings;
use crate::{http, secret};

/// The header carrying the occurrence's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The header carrying the schedule's ARN.
pub const SCHEDULE_HEADER: &str = "X-Bridge-Schedule";
/// The header carrying the occurrence's nominal time (RFC 3339, UTC, whole seconds).
pub const SCHEDULED_TIME_HEADER: &str = "X-Bridge-Scheduled-Time";
/// The header carrying Scheduler's attempt number, when the event has one.
pub const ATTEMPT_HEADER: &str = "X-Bridge-Attempt";

/// Longest time one token request may take (less when the deadline is nearer).
const TOKEN_TIMEOUT: Duration = Duration::from_secs(5);

/// What Lambda says about one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationContext {
    /// Lambda's request id.
    pub request_id: String,
    /// When Lambda stops the invocation.
    pub deadline: SystemTime,
}

/// The function's result when the app accepted the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Success {
    /// The app's HTTP status (2xx).
    pub status: u16,
    /// HTTP attempts made.
    pub attempts: u32,
    /// From the start of the invocation to the answer.
    pub duration_ms: u64,
    /// `METHOD /path`.
    pub target: String,
    /// The occurrence's idempotency key.
    pub idempotency_key: String,
    /// For a 202: the run's URL from `Location`, absolute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// The outcome of one invocation: what to return to Lambda, and the log line to write.
#[derive(Debug)]
pub struct Report {
    /// The function's result or error.
    pub result: Result<Success, CallerError>,
    /// The invocation's one log line.
    pub log: LogLine,
}

/// The state of one cold start, shared by its warm invocations.
pub struct Caller {
    app_base: String,
    http: reqwest::Client,
    binding: XsuaaBinding,
    secret_id: String,
    token_options: ClientOptions,
    tokens: tokio::sync::Mutex<Arc<TokenClient>>,
    default_target: Target,
    policy: Policy,
    rng: Mutex<fastrand::Rng>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("app", &self.app_base)
            .field("client_id", &self.binding.clientid)
            .finish_non_exhaustive()
    }
}

/// Result of one HTTP attempt.
enum Attempt {
    Answered {
        status: u16,
        retry_after: Option<Duration>,
        location: Option<String>,
    },
    Failed {
        timed_out: bool,
        reason: String,
    },
}

impl Caller {
    /// The cold start: settings from `env`, the service key from Secrets Manager, the clients.
    pub async fn init(env: &Env) -> Result<Self, CallerError> {
        let settings = Settings::from_env(env)?;
        let sdk_http = http::sdk_client(&settings.extra_roots_pem)?;
        let secret = secret::fetch(&settings, sdk_http).await?;
        let binding = secret::binding(&secret, &settings)?;
        Self::new(&settings, binding)
    }

    /// A caller for `settings` with an already known XSUAA binding (no Secrets Manager).
    pub fn new(settings: &Settings, binding: XsuaaBinding) -> Result<Self, CallerError> {
        let token_options = ClientOptions {
            timeout: TOKEN_TIMEOUT,
            extra_roots_pem: settings.extra_roots_pem.clone(),
            ..ClientOptions::default()
        };
        let tokens = token_client(&binding, &token_options, &settings.secret_id)?;
        Ok(Self {
            app_base: settings.app_url.as_str().trim_end_matches('/').to_owned(),
            http: http::app_client(&settings.extra_roots_pem)?,
            binding,
            secret_id: settings.secret_id.clone(),
            token_options,
            tokens: tokio::sync::Mutex::new(Arc::new(tokens)),
            default_target: settings.default_target.clone(),
            policy: Policy::DEFAULT,
            rng: Mutex::new(fastrand::Rng::new()),
        })
    }

    /// The same caller with another retry policy and a seeded jitter (for tests).
    pub fn with_policy(mut self, policy: Policy, seed: u64) -> Self {
        self.policy = policy;
        self.rng = Mutex::new(fastrand::Rng::with_seed(seed));
        self
    }

    /// One invocation.
    pub async fn invoke(&self, payload: &Value, ctx: &InvocationContext) -> Report {
        let started = Instant::now();
        let left = ctx
            .deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let budget = left.saturating_sub(self.policy.reserve);
        let end = started + budget;
        let mut log = LogLine::new(&ctx.request_id);
        let result = match event::parse(payload, &self.default_target) {
            Err(e) => Err(e),
            Ok(inv) => {
                log.set_invocation(&inv);
                self.call(&inv, end, budget, started).await
            }
        };
        let duration_ms = millis(started.elapsed());
        log.finish(&result, duration_ms);
        Report { result, log }
    }

    async fn call(
        &self,
        inv: &Invocation,
        end: Instant,
        budget: Duration,
        started: Instant,
    ) -> Result<Success, CallerError> {
        let target = inv.target.to_string();
        let url = format!("{}{}", self.app_base, inv.target.path);
        let key = inv.idempotency_key();
        let mut attempts = 0u32;
        let mut refreshed = false;
        loop {
            let token = self.token(end).await?;
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CallerError::Timeout {
                    target,
                    attempts,
                    budget_ms: millis(budget),
                });
            }
            attempts += 1;
            let mut req = self
                .http
                .request(method(inv.target.method), &url)
                .timeout(left)
                .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                .header(IDEMPOTENCY_KEY, &key)
                .header(SCHEDULE_HEADER, &inv.schedule_arn)
                .header(SCHEDULED_TIME_HEADER, inv.nominal_time());
            if let Some(n) = inv.attempt {
                req = req.header(ATTEMPT_HEADER, n.to_string());
            }
            if let Some(body) = &inv.body {
                req = req
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let outcome = match req.send().await {
                Ok(resp) => Attempt::Answered {
                    status: resp.status().as_u16(),
                    retry_after: header(&resp, RETRY_AFTER)
                        .and_then(|v| retry::retry_after(&v, SystemTime::now())),
                    location: header(&resp, LOCATION),
                },
                Err(e) => Attempt::Failed {
                    timed_out: e.is_timeout(),
                    reason: cfenv::text::root_cause(&e),
                },
            };
            let left = end.saturating_duration_since(Instant::now());
            let (asked, give_up) = match outcome {
                Attempt::Answered {
                    status, location, ..
                } if retry::classify(status) == Class::Success => {
                    return Ok(Success {
                        status,
                        attempts,
                        duration_ms: millis(started.elapsed()),
                        target,
                        idempotency_key: key,
                        run: (status == 202)
                            .then(|| location.map(|l| self.absolute(&l)))
                            .flatten(),
                    });
                }
                // 409 with the run's `Location`: an earlier attempt of this occurrence (the
                // same Idempotency-Key) is still running, for example after this function timed
                // out while the job went on. The occurrence is being handled: report it like a
                // 202, so Lambda does not retry it into the dead-letter queue.
                Attempt::Answered {
                    status: 409,
                    location: Some(location),
                    ..
                } => {
                    return Ok(Success {
                        status: 409,
                        attempts,
                        duration_ms: millis(started.elapsed()),
                        target,
                        idempotency_key: key,
                        run: Some(self.absolute(&location)),
                    });
                }
                Attempt::Answered { status: 401, .. }
                    if !refreshed && attempts < self.policy.max_attempts =>
                {
                    refreshed = true;
                    self.refresh_token().await?;
                    continue;
                }
                Attempt::Answered {
                    status,
                    retry_after,
                    ..
                } => match retry::classify(status) {
                    Class::Throttled => (
                        retry_after,
                        CallerError::Throttled {
                            target: target.clone(),
                            attempts,
                            retry_after_s: retry_after.map(|d| d.as_secs()),
                        },
                    ),
                    Class::Transient => (
                        None,
                        CallerError::Upstream {
                            target: target.clone(),
                            status,
                            attempts,
                        },
                    ),
                    Class::Success | Class::Unauthorized | Class::Final => {
                        return Err(CallerError::Rejected {
                            target,
                            status,
                            attempts,
                        });
                    }
                },
                Attempt::Failed { timed_out, .. }
                    if timed_out && left < self.policy.min_attempt =>
                {
                    return Err(CallerError::Timeout {
                        target,
                        attempts,
                        budget_ms: millis(budget),
                    });
                }
                Attempt::Failed { reason, .. } => (
                    None,
                    CallerError::Unreachable {
                        target: target.clone(),
                        attempts,
                        reason,
                    },
                ),
            };
            let unit = self.rng.lock().unwrap_or_else(|e| e.into_inner()).f64();
            match retry::next(&self.policy, attempts, asked, left, unit) {
                Next::RetryAfter(wait) => tokio::time::sleep(wait).await,
                Next::OutOfAttempts | Next::OutOfTime => return Err(give_up),
            }
        }
    }

    /// A token from the cache or XSUAA, within what is left of the budget.
    async fn token(&self, end: Instant) -> Result<cfenv::Secret, CallerError> {
        let client = self.tokens.lock().await.clone();
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, client.access_token()).await {
            Ok(Ok(token)) => Ok(token.token),
            Ok(Err(e)) => Err(CallerError::token(e)),
            Err(_) => Err(CallerError::TokenUnavailable(TokenError::Timeout {
                host: host_of(client.token_url()),
                timeout_ms: millis(left),
            })),
        }
    }

    /// Drops the cached token: a new client (empty cache) replaces the old one.
    async fn refresh_token(&self) -> Result<(), CallerError> {
        let fresh = token_client(&self.binding, &self.token_options, &self.secret_id)?;
        *self.tokens.lock().await = Arc::new(fresh);
        Ok(())
    }

    fn absolute(&self, location: &str) -> String {
        match url::Url::parse(&format!("{}/", self.app_base)).and_then(|b| b.join(location)) {
            Ok(u) => u.to_string(),
            Err(_) => location.to_owned(),
        }
    }
}

fn token_client(
    binding: &XsuaaBinding,
    options: &ClientOptions,
    secret_id: &str,
) -> Result<TokenClient, CallerError> {
    TokenClient::from_binding(binding, options).map_err(|e| CallerError::Secret {
        secret_id: secret_id.to_owned(),
        reason: e.to_string(),
    })
}

fn method(m: event::Method) -> reqwest::Method {
    match m {
        event::Method::Get => reqwest::Method::GET,
        event::Method::Post => reqwest::Method::POST,
        event::Method::Put => reqwest::Method::PUT,
        event::Method::Patch => reqwest::Method::PATCH,
        event::Method::Delete => reqwest::Method::DELETE,
    }
}

fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(443)))
        })
        .unwrap_or_else(|| "(token endpoint)".to_owned())
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
