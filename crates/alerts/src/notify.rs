//! Delivering alerts: to SAP Alert Notification service's producer API
//! (<https://help.sap.com/docs/alert-notification/sap-alert-notification-for-sap-btp/producer-api>:
//! `POST {url}/cf/producer/v1/resource-events` with a bearer token from the binding's
//! `oauth_url`, client credentials), or to a webhook, which receives the same resource-event
//! JSON. Written with `reqwest` by hand: SAP publishes no Rust client for either.
//!
//! A delivery is tried three times (connection errors, 429 and 5xx; one second, then two,
//! apart); a 401 from the producer API drops the cached token and fetches a new one once.
//! Errors name the endpoint's host and the status, never a token or the client secret.

use std::time::{Duration, Instant};

use cfenv::{AlertNotificationBinding, Secret};
use serde_json::json;
use url::Url;

use crate::watch::{Alert, AlertKind};

/// Why an alert was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// The notifier cannot be built (bad URL, unusable certificates).
    #[error("alert target misconfigured: {0}")]
    Config(String),
    /// The endpoint could not be reached.
    #[error("alert endpoint {host} unreachable: {reason}")]
    Unreachable {
        /// `host:port`.
        host: String,
        /// What failed.
        reason: String,
    },
    /// The endpoint refused the alert.
    #[error("alert endpoint {host} answered HTTP {status}: {body}")]
    Rejected {
        /// `host:port`.
        host: String,
        /// The status.
        status: u16,
        /// The start of its body.
        body: String,
    },
    /// No token from the Alert Notification service's token endpoint.
    #[error("alert notification token endpoint {host}: {reason}")]
    Token {
        /// `host:port`.
        host: String,
        /// What failed.
        reason: String,
    },
}

enum Target {
    Ans(Box<Ans>),
    Webhook(Url),
}

struct Ans {
    events_url: Url,
    oauth_url: Url,
    client_id: String,
    client_secret: Secret,
    token: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

/// Sends alerts to one target.
pub struct Notifier {
    http: reqwest::Client,
    target: Target,
    resource: String,
    retry_delay: Duration,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            Target::Ans(a) => format!("alert-notification {}", host(&a.events_url)),
            Target::Webhook(u) => format!("webhook {}", host(u)),
        };
        f.debug_struct("Notifier")
            .field("target", &target)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

fn host(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => "?".to_owned(),
    }
}

fn client(extra_roots_pem: &[Vec<u8>]) -> Result<reqwest::Client, AlertError> {
    let roots = tlsroots::with_extra(extra_roots_pem)
        .map_err(|_| AlertError::Config("extra root certificates are not a PEM bundle".into()))?;
    let roots = roots
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| AlertError::Config("extra root certificates are not usable".into()))?;
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("btp-aws-bridge/", env!("CARGO_PKG_VERSION")))
        .tls_certs_only(roots)
        .build()
        .map_err(|e| AlertError::Config(cfenv::text::root_cause(&e)))
}

impl Notifier {
    /// A notifier for an Alert Notification binding; `resource` names the app in the events
    /// (`resource.resourceName`).
    pub fn alert_notification(
        binding: &AlertNotificationBinding,
        resource: &str,
        extra_roots_pem: &[Vec<u8>],
    ) -> Result<Self, AlertError> {
        let base = binding.url.as_str().trim_end_matches('/');
        let events_url = Url::parse(&format!("{base}/cf/producer/v1/resource-events"))
            .map_err(|_| AlertError::Config("credentials.url is not a base URL".into()))?;
        Ok(Self {
            http: client(extra_roots_pem)?,
            target: Target::Ans(Box::new(Ans {
                events_url,
                oauth_url: binding.oauth_url.clone(),
                client_id: binding.client_id.clone(),
                client_secret: binding.client_secret.clone(),
                token: tokio::sync::Mutex::new(None),
            })),
            resource: resource.to_owned(),
            retry_delay: Duration::from_secs(1),
        })
    }

    /// A notifier that POSTs each alert's resource-event JSON to `url`.
    pub fn webhook(
        url: Url,
        resource: &str,
        extra_roots_pem: &[Vec<u8>],
    ) -> Result<Self, AlertError> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err(AlertError::Config(
                "the webhook URL must be http or https".into(),
            ));
        }
        Ok(Self {
            http: client(extra_roots_pem)?,
            target: Target::Webhook(url),
            resource: resource.to_owned(),
            retry_delay: Duration::from_secs(1),
        })
    }

    /// Shortens the delay between delivery attempts (tests).
    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Where alerts go, for logs: `alert-notification host:port` or `webhook host:port`.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Ans(a) => format!("alert-notification {}", host(&a.events_url)),
            Target::Webhook(u) => format!("webhook {}", host(u)),
        }
    }

    /// The resource event for `alert` (Alert Notification's `ResourceEvent`).
    pub fn event(&self, alert: &Alert) -> serde_json::Value {
        let severity = match alert.kind {
            AlertKind::RunFailed | AlertKind::DeadLettered => "ERROR",
            AlertKind::Missed => "WARNING",
        };
        json!({
            "eventType": alert.kind.event_type(),
            "severity": severity,
            "category": "ALERT",
            "subject": alert.subject(),
            "body": format!("{} ({}). Schedule {}, idempotency key {}.", alert.subject(), alert.detail, alert.schedule_arn, alert.key),
            "eventTimestamp": chrono::Utc::now().timestamp(),
            "resource": {
                "resourceName": self.resource,
                "resourceType": "application",
                "tags": { "schedule": alert.schedule },
            },
            "tags": {
                "ans:sourceEventId": alert.dedup_key(),
                "schedule": alert.schedule,
                "scheduleArn": alert.schedule_arn,
                "scheduledTime": schedule::occurrence::nominal_time(alert.nominal),
                "idempotencyKey": alert.key,
                "kind": alert.kind.as_str(),
            },
        })
    }

    /// Delivers `alert`.
    pub async fn send(&self, alert: &Alert) -> Result<(), AlertError> {
        let event = self.event(alert);
        let mut last = None;
        let mut refreshed = false;
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(self.retry_delay * attempt).await;
            }
            match self.post(&event).await {
                Ok(()) => return Ok(()),
                Err(Attempt::Unauthorized(e)) if !refreshed => {
                    refreshed = true;
                    self.forget_token().await;
                    last = Some(e);
                }
                Err(Attempt::Retry(e)) | Err(Attempt::Unauthorized(e)) => last = Some(e),
                Err(Attempt::Fatal(e)) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| AlertError::Config("no attempt made".into())))
    }

    async fn post(&self, event: &serde_json::Value) -> Result<(), Attempt> {
        let (url, bearer) = match &self.target {
            Target::Webhook(u) => (u, None),
            Target::Ans(a) => (
                &a.events_url,
                Some(self.token().await.map_err(Attempt::Retry)?),
            ),
        };
        let mut req = self.http.post(url.clone()).json(event);
        if let Some(t) = &bearer {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().await.map_err(|e| {
            Attempt::Retry(AlertError::Unreachable {
                host: host(url),
                reason: cfenv::text::root_cause(&e),
            })
        })?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(());
        }
        let body = resp.text().await.unwrap_or_default();
        let err = AlertError::Rejected {
            host: host(url),
            status,
            body: cfenv::text::prefix(body.trim(), 200).to_owned(),
        };
        Err(match status {
            401 if bearer.is_some() => Attempt::Unauthorized(err),
            429 | 500..=599 => Attempt::Retry(err),
            _ => Attempt::Fatal(err),
        })
    }

    async fn forget_token(&self) {
        if let Target::Ans(a) = &self.target {
            *a.token.lock().await = None;
        }
    }

    async fn token(&self) -> Result<Secret, AlertError> {
        let Target::Ans(a) = &self.target else {
            return Err(AlertError::Config(
                "not an Alert Notification target".into(),
            ));
        };
        let (oauth_url, client_id, client_secret, token) =
            (&a.oauth_url, &a.client_id, &a.client_secret, &a.token);
        let mut cached = token.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let fail = |reason: String| AlertError::Token {
            host: host(oauth_url),
            reason,
        };
        let has_grant = oauth_url.query_pairs().any(|(k, _)| k == "grant_type");
        let mut req = self
            .http
            .post(oauth_url.clone())
            .basic_auth(client_id, Some(client_secret.expose()))
            .header("accept", "application/json");
        if !has_grant {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials");
        }
        let resp = req
            .send()
            .await
            .map_err(|e| fail(cfenv::text::root_cause(&e)))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| fail(cfenv::text::root_cause(&e)))?;
        if !status.is_success() {
            return Err(fail(format!("HTTP {}", status.as_u16())));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let parsed: TokenResponse = serde_json::from_str(&body)
            .map_err(|_| fail(format!("HTTP {} but not a token response", status.as_u16())))?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(300));
        let until = Instant::now()
            + lifetime
                .saturating_sub(Duration::from_secs(60))
                .max(Duration::from_secs(1));
        let secret = Secret::new(parsed.access_token);
        *cached = Some((secret.clone(), until));
        Ok(secret)
    }
}

enum Attempt {
    Retry(AlertError),
    Unauthorized(AlertError),
    Fatal(AlertError),
}
