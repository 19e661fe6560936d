//! The AWS → BTP side of the dev stack, started once the app's URL is known
//! ([`DevStack::start_scheduled`]): the local Secrets Manager holding the caller's XSUAA
//! service key, the local Lambda running the real `bootstrap` of `crates/caller` as function
//! `btp-aws-bridge-caller` with its execution role's session credentials, and the local
//! Scheduler loaded from the schedule files, invoking that function asynchronously. What the
//! Scheduler and the Lambda do is reported to the given sinks, so `bridge dev` can join it
//! with the app's run history.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::watch;

use crate::aws_identity::CALLER_SECRET_NAME;
use crate::error::DevError;
use crate::lambda::{EventInvokeConfig, FunctionConfig, InvocationSink, InvokeError, LocalLambda};
use crate::scheduler::delivery::{DeliverySink, InvokeFailure, Invoker};
use crate::scheduler::{LocalScheduler, SchedulerConfig};
use crate::secrets::LocalSecrets;
use crate::{DevStack, authority, bind, layout, tls};

/// The caller function's name (the template's `FunctionName`, the schedule files' target).
pub const CALLER_FUNCTION: &str = "btp-aws-bridge-caller";

/// The execution role session name the local Lambda uses for the caller.
const CALLER_SESSION: &str = "btp-aws-bridge-caller";

/// Settings of the AWS → BTP side.
#[derive(Clone)]
pub struct ScheduledConfig {
    /// The app's base URL the caller calls (`BRIDGE_APP_URL`).
    pub app_url: String,
    /// The caller's `bootstrap` executable.
    pub bootstrap: PathBuf,
    /// The schedule files as `(name, text)` (`deploy/aws/schedules/*.json`).
    pub schedules: Vec<(String, String)>,
    /// The local Lambda's port (0: any free port).
    pub lambda_port: u16,
    /// The local Scheduler's port (0: any free port).
    pub scheduler_port: u16,
    /// The local Secrets Manager's port (0: any free port).
    pub secrets_port: u16,
    /// The caller's timeout (the template's 30 s).
    pub function_timeout: Duration,
    /// The caller's asynchronous invocation settings (Lambda's defaults; tests shorten the
    /// retry delays).
    pub event_invoke: EventInvokeConfig,
    /// Scheduler settings on top of the defaults (catch-up, backoff, clock); its region,
    /// account, state directory and files are set from the stack.
    pub scheduler: Option<SchedulerConfig>,
    /// Receives every Lambda invocation attempt.
    pub lambda_sink: Arc<dyn InvocationSink>,
    /// Receives every Scheduler delivery event.
    pub delivery_sink: Arc<dyn DeliverySink>,
}

impl std::fmt::Debug for ScheduledConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledConfig")
            .field("app_url", &self.app_url)
            .field("bootstrap", &self.bootstrap)
            .field(
                "schedules",
                &self.schedules.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ScheduledConfig {
    /// Defaults: ports 4015 (Lambda), 4016 (Scheduler), 4017 (Secrets Manager), a 30 s
    /// timeout, Lambda's asynchronous defaults, no schedules, sinks that keep nothing.
    pub fn new(app_url: impl Into<String>, bootstrap: impl Into<PathBuf>) -> Self {
        Self {
            app_url: app_url.into(),
            bootstrap: bootstrap.into(),
            schedules: Vec::new(),
            lambda_port: 4015,
            scheduler_port: 4016,
            secrets_port: 4017,
            function_timeout: Duration::from_secs(30),
            event_invoke: EventInvokeConfig::default(),
            scheduler: None,
            lambda_sink: Arc::new(crate::lambda::NoSink),
            delivery_sink: Arc::new(crate::scheduler::delivery::NoSink),
        }
    }

    /// Every service on an ephemeral port (tests).
    pub fn ephemeral(mut self) -> Self {
        self.lambda_port = 0;
        self.scheduler_port = 0;
        self.secrets_port = 0;
        self
    }
}

/// The running AWS → BTP side.
pub struct ScheduledCalls {
    lambda: LocalLambda,
    scheduler: LocalScheduler,
    secrets: LocalSecrets,
    lambda_url: String,
    scheduler_url: String,
    secrets_url: String,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for ScheduledCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledCalls")
            .field("lambda_url", &self.lambda_url)
            .field("scheduler_url", &self.scheduler_url)
            .field("secrets_url", &self.secrets_url)
            .finish_non_exhaustive()
    }
}

/// The Scheduler's way into the local Lambda: in process, as `InvocationType: Event`.
struct LambdaInvoker(LocalLambda);

#[async_trait::async_trait]
impl Invoker for LambdaInvoker {
    async fn invoke_event(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
    ) -> Result<Option<String>, InvokeFailure> {
        match self.0.invoke_async(function_arn, Bytes::from(payload)) {
            Ok(request_id) => Ok(Some(request_id)),
            Err(e @ InvokeError::Throttled) => Err(InvokeFailure::retryable(
                "TooManyRequestsException",
                e.to_string(),
            )),
            Err(e @ InvokeError::NotFound(_)) => Err(InvokeFailure::permanent(
                "ResourceNotFoundException",
                e.to_string(),
            )),
            Err(e @ InvokeError::InvalidContent(_)) => Err(InvokeFailure::permanent(
                "InvalidRequestContentException",
                e.to_string(),
            )),
            Err(e @ InvokeError::TooLarge(_)) => Err(InvokeFailure::permanent(
                "RequestTooLargeException",
                e.to_string(),
            )),
        }
    }
}

impl DevStack {
    /// Starts the AWS → BTP side for the app at `config.app_url`: seeds the caller's secret
    /// (the app's XSUAA service key) in a local Secrets Manager, registers the caller function
    /// in a local Lambda and starts a local Scheduler with the schedule files, each on its own
    /// HTTPS port with the dev CA.
    pub async fn start_scheduled(
        &self,
        config: ScheduledConfig,
    ) -> Result<ScheduledCalls, DevError> {
        let aws = self.aws.clone();
        let host = crate::host_name(self.host);
        let tls = self
            .ca
            .server_config(&[host.as_str(), "localhost", "127.0.0.1"])?;
        let (stop, stopped) = watch::channel(false);
        let shutdown = move || {
            let mut s = stopped.clone();
            async move {
                let _ = s.wait_for(|v| *v).await;
            }
        };
        let mut tasks = Vec::new();

        // Secrets Manager, with the caller's service key.
        let secrets = LocalSecrets::open(&layout::secrets_dir(&self.data_dir), aws.clone())?;
        let key = self.xsuaa.binding().to_string();
        secrets.put_secret_string(CALLER_SECRET_NAME, &key)?;
        let (listener, port) = bind(self.host, config.secrets_port).await?;
        let secrets_url = format!("https://{}", authority(&host, port));
        tasks.push(tokio::spawn(tls::serve_tls(
            listener,
            secrets.router(),
            tls.clone(),
            self.limits,
            shutdown(),
        )));

        // Lambda, with the caller function.
        let caller_role = aws.caller_role().name.clone();
        let creds_aws = aws.clone();
        let credentials: crate::lambda::CredentialSource = Arc::new(move || {
            creds_aws
                .issue_role_session(&caller_role, CALLER_SESSION, Duration::from_secs(3600))
                .map(|c| {
                    vec![
                        ("AWS_ACCESS_KEY_ID".to_owned(), c.access_key_id),
                        (
                            "AWS_SECRET_ACCESS_KEY".to_owned(),
                            c.secret_access_key.expose().to_owned(),
                        ),
                        (
                            "AWS_SESSION_TOKEN".to_owned(),
                            c.session_token.expose().to_owned(),
                        ),
                    ]
                })
                .unwrap_or_default()
        });
        let mut function = FunctionConfig::new(CALLER_FUNCTION, &config.bootstrap);
        function.timeout = config.function_timeout;
        function.event_invoke = config.event_invoke.clone();
        function.credentials = Some(credentials);
        function.env = vec![
            ("BRIDGE_APP_URL".into(), config.app_url.clone()),
            ("BRIDGE_SECRET_ID".into(), CALLER_SECRET_NAME.into()),
            (
                "BRIDGE_EXTRA_CA_CERTS".into(),
                self.ca_path().display().to_string(),
            ),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
                secrets_url.clone(),
            ),
            ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ];
        let lambda = LocalLambda::new(
            Some(aws.clone()),
            aws.region(),
            aws.account_id(),
            vec![function],
            config.lambda_sink.clone(),
        );
        let (listener, port) = bind(self.host, config.lambda_port).await?;
        let lambda_url = format!("https://{}", authority(&host, port));
        tasks.push(tokio::spawn(tls::serve_tls(
            listener,
            lambda.router(),
            tls.clone(),
            self.limits,
            shutdown(),
        )));

        // Scheduler, with the schedule files.
        let mut sc = config.scheduler.clone().unwrap_or_else(|| {
            SchedulerConfig::new(&self.data_dir, aws.region(), aws.account_id())
        });
        sc.state_dir = Some(layout::scheduler_dir(&self.data_dir));
        sc.region = aws.region().to_owned();
        sc.account_id = aws.account_id().to_owned();
        sc.files = config.schedules.clone();
        let scheduler = LocalScheduler::open(
            sc,
            Arc::new(LambdaInvoker(lambda.clone())),
            config.delivery_sink.clone(),
        )?;
        let (listener, port) = bind(self.host, config.scheduler_port).await?;
        let scheduler_url = format!("https://{}", authority(&host, port));
        let metrics = {
            let (lambda, scheduler) = (lambda.clone(), scheduler.clone());
            axum::Router::new().route(
                "/local/metrics",
                axum::routing::get(move || {
                    let text = metrics_text(&lambda, &scheduler);
                    async move {
                        (
                            [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                            text,
                        )
                    }
                }),
            )
        };
        tasks.push(tokio::spawn(tls::serve_tls(
            listener,
            metrics.merge(scheduler.router(aws.clone())),
            tls,
            self.limits,
            shutdown(),
        )));
        let engine = scheduler.clone();
        let stop_engine = shutdown();
        tasks.push(tokio::spawn(async move { engine.run(stop_engine).await }));

        Ok(ScheduledCalls {
            lambda,
            scheduler,
            secrets,
            lambda_url,
            scheduler_url,
            secrets_url,
            stop,
            tasks,
        })
    }
}

/// The local Scheduler's and Lambda's counters in Prometheus' text format (what CloudWatch's
/// `AWS/Scheduler` and `AWS/Lambda` metrics count at AWS), served at `GET /local/metrics` on
/// the Scheduler's port. Written by hand: a dozen lines of a fixed format, no registry needed.
pub fn metrics_text(lambda: &LocalLambda, scheduler: &LocalScheduler) -> String {
    let s = scheduler.metrics();
    let l = lambda.counters();
    let mut lateness = s.recent_lateness_ms.clone();
    lateness.sort_unstable();
    let quantile = |q: f64| -> u64 {
        if lateness.is_empty() {
            return 0;
        }
        let i = ((lateness.len() - 1) as f64 * q).round() as usize;
        lateness[i.min(lateness.len() - 1)]
    };
    let counters: [(&str, &str, u64); 14] = [
        (
            "devstack_scheduler_fires_total",
            "Occurrences fired",
            s.fires,
        ),
        (
            "devstack_scheduler_attempts_total",
            "Delivery attempts (first attempts and retries)",
            s.attempts,
        ),
        (
            "devstack_scheduler_retries_total",
            "Delivery retries",
            s.retries,
        ),
        (
            "devstack_scheduler_failed_attempts_total",
            "Delivery attempts that failed",
            s.failed_attempts,
        ),
        (
            "devstack_scheduler_dead_letters_total",
            "Events sent to a dead-letter queue",
            s.dead_letters,
        ),
        (
            "devstack_scheduler_dropped_total",
            "Events dropped without a dead-letter queue",
            s.dropped,
        ),
        (
            "devstack_scheduler_skipped_total",
            "Occurrences missed while the stack was down and not caught up",
            s.skipped,
        ),
        (
            "devstack_lambda_invocations_total",
            "Invocation attempts",
            l.invocations,
        ),
        (
            "devstack_lambda_errors_total",
            "Invocation attempts that ended in a function error",
            l.errors,
        ),
        (
            "devstack_lambda_timeouts_total",
            "Invocation attempts that timed out",
            l.timeouts,
        ),
        (
            "devstack_lambda_async_retries_total",
            "Asynchronous retries",
            l.retries,
        ),
        (
            "devstack_lambda_failed_events_total",
            "Asynchronous events sent to the on-failure destination",
            l.failed_events,
        ),
        (
            "devstack_lambda_throttles_total",
            "Invocations refused because the queue was full",
            l.throttles,
        ),
        (
            "devstack_lambda_cold_starts_total",
            "Execution environments started",
            l.cold_starts,
        ),
    ];
    let mut out = String::new();
    for (name, help, value) in counters {
        out.push_str(&format!(
            "# HELP {name} {help}.\n# TYPE {name} counter\n{name} {value}\n"
        ));
    }
    out.push_str(
        "# HELP devstack_scheduler_lateness_seconds Fire time after the nominal time, over the recent fires.\n\
         # TYPE devstack_scheduler_lateness_seconds summary\n",
    );
    for q in [0.5, 0.99] {
        out.push_str(&format!(
            "devstack_scheduler_lateness_seconds{{quantile=\"{q}\"}} {}\n",
            quantile(q) as f64 / 1000.0
        ));
    }
    out.push_str(&format!(
        "devstack_scheduler_lateness_seconds_count {}\n",
        lateness.len()
    ));
    out
}

impl ScheduledCalls {
    /// The local Lambda.
    pub fn lambda(&self) -> &LocalLambda {
        &self.lambda
    }

    /// The local Scheduler.
    pub fn scheduler(&self) -> &LocalScheduler {
        &self.scheduler
    }

    /// The local Secrets Manager.
    pub fn secrets(&self) -> &LocalSecrets {
        &self.secrets
    }

    /// The local Lambda's origin (`--endpoint-url` for `aws lambda`).
    pub fn lambda_url(&self) -> &str {
        &self.lambda_url
    }

    /// The local Scheduler's origin (`--endpoint-url` for `aws scheduler`).
    pub fn scheduler_url(&self) -> &str {
        &self.scheduler_url
    }

    /// The local Secrets Manager's origin.
    pub fn secrets_url(&self) -> &str {
        &self.secrets_url
    }

    /// Stops the Scheduler (saving its state), the servers and every execution environment.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.lambda.shutdown();
    }
}
