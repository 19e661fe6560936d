//! Prometheus metrics, served at `GET /metrics` in the text exposition format.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `bridge_http_requests_total` | counter | `method`, `route` (the matched route, never the raw path), `status` |
//! | `bridge_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `bridge_upstream_calls_total` | counter | `dependency` (`S3`, `STS`, `Credential Store`), `operation`, `outcome` (`ok`, `refused`, `unreachable`, `timeout`) |
//! | `bridge_upstream_call_duration_seconds` | histogram | `dependency`, `operation` |
//! | `bridge_sts_assume_role_total` | counter | `outcome` (`success`, `failure`): AssumeRole calls by the credential cache |
//! | `bridge_aws_credentials_valid` | gauge | 1 while the cached temporary credentials may be served |
//! | `bridge_aws_credentials_expiry_seconds` | gauge | seconds until they expire (negative: expired) |
//! | `bridge_job_runs_total` | counter | `job`, `outcome` |
//! | `bridge_job_duplicates_total` | counter | `job`: calls whose `Idempotency-Key` was already claimed |
//! | `bridge_job_run_duration_seconds` | histogram | `job` |
//! | `bridge_job_lateness_seconds` | histogram | `job`: arrival after the occurrence's nominal time (`X-Bridge-Scheduled-Time`) |
//! | `bridge_alerts_total` | counter | `kind` (`failed`, `dead-lettered`, `missed`: missed occurrences), `result` (`sent`, `failed`, `logged`) |
//!
//! The STS figures are read from `awslink`'s credential cache at scrape time, so they count
//! every AssumeRole, including refreshes no request waited for.
//!
//! Every label value comes from a bounded set, so no client can grow the registry: `method` is
//! one of the nine methods of RFC 9110 §9 and RFC 5789 or `other` ([`method_label`]), `route`
//! a route template of the router, a resource shape of the catalog or `unmatched`, `status` a
//! status code the app itself chose. `tests/app/hostile.rs` floods made-up methods and paths
//! and checks the series count stays put.
//!
//! Who may scrape: see [`MetricsAccess`].

use std::time::{Duration, SystemTime};

use axum::http::Method;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// Labels of the request-duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// Labels of the upstream-call counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    dependency: &'static str,
    operation: &'static str,
    outcome: &'static str,
}

/// Labels of the upstream-call histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamOpLabels {
    dependency: &'static str,
    operation: &'static str,
}

/// Labels of the job-run counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
    outcome: &'static str,
}

/// Labels of the job duplicate counter and duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobNameLabels {
    job: &'static str,
}

/// Labels of the alert counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    kind: &'static str,
    result: &'static str,
}

fn job_histogram() -> Histogram {
    // 1 ms … ~9 h.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 4.0, 13,
    ))
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

/// The label for a request method: the standard methods by name, anything else (HTTP allows
/// any token as a method) as `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone who can reach the port (loopback development).
    Open,
    /// Only requests with `Authorization: Bearer <token>` (`BRIDGE_METRICS_TOKEN`).
    Token(cfenv::Secret),
    /// Not served (404): on Cloud Foundry without `BRIDGE_METRICS_TOKEN`, because the route is
    /// public there.
    Disabled,
}

/// The app's metrics registry and the handles the middleware and handlers update.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    upstream: Family<UpstreamLabels, Counter>,
    upstream_durations: Family<UpstreamOpLabels, Histogram, fn() -> Histogram>,
    job_runs: Family<JobLabels, Counter>,
    job_duplicates: Family<JobNameLabels, Counter>,
    job_durations: Family<JobNameLabels, Histogram, fn() -> Histogram>,
    job_lateness: Family<JobNameLabels, Histogram, fn() -> Histogram>,
    alerts: Family<AlertLabels, Counter>,
    /// Who may scrape.
    pub access: MetricsAccess,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry with the request and upstream metrics, and the AWS credential figures when
    /// `aws` is given.
    pub fn new(access: MetricsAccess, aws: Option<awslink::RoleCredentials>) -> Self {
        let mut registry = Registry::with_prefix("bridge");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, matched route and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response head, by method and matched route",
            durations.clone(),
        );
        let upstream = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_calls",
            "Calls to dependencies (S3, STS, Credential Store) by outcome",
            upstream.clone(),
        );
        let upstream_durations =
            Family::<UpstreamOpLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "upstream_call_duration_seconds",
            "Duration of calls to dependencies",
            upstream_durations.clone(),
        );
        let job_runs = Family::<JobLabels, Counter>::default();
        registry.register(
            "job_runs",
            "Job runs finished (or started unrecorded), by job and outcome",
            job_runs.clone(),
        );
        let job_duplicates = Family::<JobNameLabels, Counter>::default();
        registry.register(
            "job_duplicates",
            "Job calls with an Idempotency-Key already claimed (answered from the history or 409)",
            job_duplicates.clone(),
        );
        let job_durations =
            Family::<JobNameLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                job_histogram,
            );
        registry.register(
            "job_run_duration_seconds",
            "Duration of job runs, by job",
            job_durations.clone(),
        );
        let job_lateness =
            Family::<JobNameLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                job_histogram,
            );
        registry.register(
            "job_lateness_seconds",
            "How long after its occurrence's nominal time a scheduled job call arrived (first attempts and retries), by job",
            job_lateness.clone(),
        );
        let alerts = Family::<AlertLabels, Counter>::default();
        registry.register(
            "alerts",
            "Alerts raised by the watchdog, by kind (failed, dead-lettered, missed) and result (sent, failed, logged)",
            alerts.clone(),
        );
        if let Some(credentials) = aws {
            registry.register_collector(Box::new(AwsCollector { credentials }));
        }
        Self {
            registry,
            requests,
            durations,
            upstream,
            upstream_durations,
            job_runs,
            job_duplicates,
            job_durations,
            job_lateness,
            alerts,
            access,
        }
    }

    /// Records one finished job run. `job` comes from the app's fixed set of jobs.
    pub fn job_run(&self, job: &'static str, outcome: runs::Outcome, elapsed: Duration) {
        self.job_runs
            .get_or_create(&JobLabels {
                job,
                outcome: outcome.as_str(),
            })
            .inc();
        self.job_durations
            .get_or_create(&JobNameLabels { job })
            .observe(elapsed.as_secs_f64());
    }

    /// Records how late a scheduled call of `job` arrived after its nominal time.
    pub fn job_lateness(&self, job: &'static str, late: Duration) {
        self.job_lateness
            .get_or_create(&JobNameLabels { job })
            .observe(late.as_secs_f64());
    }

    /// Records one alert of `kind` (`failed`, `dead-lettered`, `missed`) and whether it was
    /// `sent`, `failed` or only `logged`.
    pub fn alert(&self, kind: &'static str, result: &'static str) {
        self.alerts
            .get_or_create(&AlertLabels { kind, result })
            .inc();
    }

    /// Records one duplicate job call.
    pub fn job_duplicate(&self, job: &'static str) {
        self.job_duplicates
            .get_or_create(&JobNameLabels { job })
            .inc();
    }

    /// Records one answered request. `route` must come from a bounded set (a route template,
    /// a catalog resource shape, or `unmatched`); the method is reduced by [`method_label`].
    pub fn request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one call to a dependency.
    pub fn upstream(
        &self,
        dependency: &'static str,
        operation: &'static str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        self.upstream
            .get_or_create(&UpstreamLabels {
                dependency,
                operation,
                outcome,
            })
            .inc();
        self.upstream_durations
            .get_or_create(&UpstreamOpLabels {
                dependency,
                operation,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Reads the credential cache's figures at scrape time.
#[derive(Debug)]
struct AwsCollector {
    credentials: awslink::RoleCredentials,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

impl Collector for AwsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = self.credentials.status();
        let family = encoder.encode_descriptor(
            "sts_assume_role",
            "AssumeRole calls made by the AWS credential cache, by outcome",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        let mut family = family;
        for (outcome, n) in [("success", status.refreshes), ("failure", status.failures)] {
            let labels = OutcomeLabel { outcome };
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        let valid = ConstGauge::new(i64::from(status.valid));
        valid.encode(encoder.encode_descriptor(
            "aws_credentials_valid",
            "1 while the cached temporary AWS credentials may be served",
            None,
            valid.metric_type(),
        )?)?;
        if let Some(expiry) = status.expiry {
            let left = match expiry.duration_since(SystemTime::now()) {
                Ok(d) => d.as_secs_f64(),
                Err(e) => -e.duration().as_secs_f64(),
            };
            let gauge = ConstGauge::new(left);
            gauge.encode(encoder.encode_descriptor(
                "aws_credentials_expiry_seconds",
                "Seconds until the cached temporary AWS credentials expire",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}
