//! The scheduled caller: the Lambda function `bootstrap` (runtime `provided.al2023`, on
//! `lambda_runtime`) that EventBridge Scheduler (or a classic EventBridge scheduled rule)
//! triggers. Per invocation it gets an XSUAA client-credentials token and calls a
//! scope-protected job endpoint of the app, with retries inside the invocation's deadline.
//!
//! # Environment
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `BRIDGE_APP_URL` | yes | The app's base URL (`https://…`, a path prefix allowed); the event's path is appended. |
//! | `BRIDGE_SECRET_ID` | yes | Name or ARN of the Secrets Manager secret whose `SecretString` is the XSUAA service key (see [`secret`]). Read once per cold start. |
//! | `BRIDGE_XSUAA_URL` | no | The token endpoint base (`/oauth/token` is appended), overriding the key's `url` (`certurl` for x509 keys). |
//! | `BRIDGE_XSUAA_CLIENT_ID` | no | The OAuth client id; must equal the key's `clientid` when the key has one. |
//! | `BRIDGE_EXTRA_CA_CERTS` | no | A PEM file of extra root certificates, trusted for XSUAA, the app and Secrets Manager besides the platform's (the dev CA locally; as for the app). |
//! | `BRIDGE_DEFAULT_TARGET` | no | The call for a classic EventBridge scheduled event whose `detail` names none: `METHOD /path`, default `GET /jobs/ping`. |
//! | `AWS_ENDPOINT_URL_SECRETS_MANAGER` | no | The Secrets Manager endpoint (the AWS SDKs' service-specific variable); else `AWS_ENDPOINT_URL`; else `https://secretsmanager.<region>.amazonaws.com`. Locally the dev stack's. |
//! | `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | set by Lambda | The region and the execution role's credentials, for `GetSecretValue`. |
//! | `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_FUNCTION_VERSION` | set by Lambda | The Runtime API and the function's identity (`lambda_runtime` needs them). |
//!
//! A missing or unusable variable fails the cold start with `Caller.Init.Config` naming it.
//!
//! # Payloads ([`event`])
//!
//! - A Scheduler `Input`: `{"method", "path", "body"?, "scheduleArn", "scheduledTime",
//!   "attempt"?}`, written in the schedule files with `<aws.scheduler.schedule-arn>`,
//!   `<aws.scheduler.scheduled-time>` and `<aws.scheduler.attempt-number>`.
//! - A classic EventBridge "Scheduled Event": `resources[0]` is the schedule, `time` the nominal
//!   time (required), `detail.method`/`path`/`body` or `BRIDGE_DEFAULT_TARGET` the call.
//!
//! # The call ([`caller`], [`retry`])
//!
//! `{method} {BRIDGE_APP_URL}{path}` with
//!
//! | header | value |
//! |---|---|
//! | `Authorization` | `Bearer <client-credentials token>` (cached across warm invocations, refreshed before expiry; fetched again once after a 401) |
//! | `Idempotency-Key` | `schedule::occurrence::key(scheduleArn, scheduledTime)`: the same for every retry of one occurrence |
//! | `X-Bridge-Schedule` | the schedule's ARN |
//! | `X-Bridge-Scheduled-Time` | the nominal time, RFC 3339 UTC whole seconds (`schedule::occurrence::nominal_time`) |
//! | `X-Bridge-Attempt` | Scheduler's attempt number, when the event has one |
//! | `Content-Type` | `application/json`, with a `body` |
//!
//! Retries with exponential backoff and full jitter on connection failures, 429 (honouring
//! `Retry-After`), 502, 503 and 504, inside the deadline minus 500 ms kept for reporting;
//! redirects are not followed; nothing else is retried.
//!
//! # Result and errors ([`error`])
//!
//! Success (2xx, or 409 with a `Location`: an earlier attempt of the same occurrence is still
//! running, so the occurrence is in hand): `{"status", "attempts", "durationMs", "target",
//! "idempotencyKey", "run"?}` (`run`: the absolute `Location` of a 202 or that 409, the run of
//! a long job). Failures are Lambda
//! function errors whose `errorType` is one of:
//!
//! | `errorType` | when |
//! |---|---|
//! | `Caller.Init.Config` | an environment variable is missing or unusable (cold start) |
//! | `Caller.Init.Secret` | the secret cannot be read, or is not a usable service key (cold start) |
//! | `Caller.BadEvent` | the event is not a usable payload (the message names the field) |
//! | `Caller.Token.Failed` | XSUAA refused the client or answered something else than a token (an HTML page) |
//! | `Caller.Retryable.Token` | XSUAA unreachable, timed out, or 5xx/429 |
//! | `Caller.Retryable.Upstream5xx` | the app answered 502/503/504 to every attempt |
//! | `Caller.Retryable.Throttled` | the app answered 429 to every attempt, or asked to wait past the deadline |
//! | `Caller.Retryable.Unreachable` | the app could not be reached |
//! | `Caller.Retryable.Timeout` | the app did not answer within the deadline |
//! | `Caller.Rejected.4xx`, `.3xx`, `.5xx` | the app answered a final status (a 4xx but 429, a 401 after one refresh, a redirect, a 5xx but 502–504) |
//!
//! `Caller.Retryable.*` may succeed when the occurrence is delivered again; the others will not
//! until something is changed.
//!
//! # Logging ([`log`])
//!
//! Exactly one JSON line per invocation on stdout (and one for a failed cold start), never a
//! token, secret or header value.

pub mod caller;
pub mod error;
pub mod event;
pub mod http;
pub mod log;
pub mod retry;
pub mod runtime;
pub mod secret;
pub mod settings;

pub use caller::{Caller, InvocationContext, Report, Success};
pub use error::CallerError;
