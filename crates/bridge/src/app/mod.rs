//! The app server behind `bridge serve` (and inside `bridge dev`).
//!
//! - [`AppState`]: what handlers share (token validator, token client, sessions, AWS access),
//!   built once from the bindings by [`AppState::from_vcap`] (or, in route tests, from a
//!   binding, a key source and an in-memory S3 through [`AppState::build`] / [`AppState::new`]).
//! - [`build_router`]: every route and middleware; [`serve`]: runs it on a bound listener until
//!   the shutdown future resolves.
//! - [`auth`]: the `Principal` / `Authorized<Scope>` extractors and the CSRF middleware.
//! - [`login`]: the browser sign-in (authorization code flow) and sign-out.
//! - [`session`]: server-side browser sessions.
//! - [`watchdog`]: alerts of scheduled calls that failed, were dead-lettered or never arrived.
//! - [`routes`]: health, readiness, `/metrics`, `/api/me`, the index page.
//! - [`jobs`]: `/jobs/*` for the scheduled caller, each call a run in the history (idempotent
//!   by `Idempotency-Key`; 202 and a run URL for long jobs), `GET /jobs/runs/{id}`.
//! - [`catalog`]: the OData V4 service at `/catalog` (buckets from S3 through `awslink`).
//! - [`upstream`]: calls to dependencies under deadlines, and their failures classified.
//! - [`metrics`]: the Prometheus registry.
//! - [`error`]: `ApiError`, the one mapping from failures to HTTP.

pub mod auth;
pub mod catalog;
pub mod documents;
pub mod error;
pub mod jobs;
pub mod login;
pub mod metrics;
pub mod routes;
pub mod session;
pub mod upstream;
pub mod watchdog;

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use url::Url;

use self::error::{ApiError, ErrorDetail};
use self::session::SessionStore;

/// Most live browser sessions (each holds an access and a refresh token, a few KiB): the
/// least recently used one ends first beyond it. See `docs/BOUNDS.md`.
pub const MAX_SESSIONS: usize = 5_000;

/// Most job runs one instance runs at once (each is a task, and `/jobs/sleep` may take an
/// hour); beyond it job calls answer 503 with `Retry-After`, before anything is recorded. See
/// `docs/BOUNDS.md`.
pub const MAX_RUNNING_JOBS: usize = 64;

/// Shared state of the app.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// Validates XSUAA tokens (JWKS cached).
    pub validator: xsuaa::validate::Validator,
    /// The validator's key source, for the readiness check.
    pub keys: Arc<dyn xsuaa::jwks::KeySource>,
    /// The app's identity zone id, for the readiness check's JWKS lookup.
    pub zone_id: Option<String>,
    /// Gets tokens from XSUAA (code exchange, refresh).
    pub tokens: xsuaa::client::TokenClient,
    /// Browser sessions.
    pub sessions: SessionStore,
    /// XSUAA's base URL (the binding's `url`), for the authorize redirect.
    pub xsuaa_url: Url,
    /// The app's OAuth client id.
    pub clientid: String,
    /// The app's expanded xsappname (`bridge!t1`).
    pub xsappname: String,
    /// AWS access: the credential cache and the S3 seam.
    pub aws: AwsAccess,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Limits of the OData service.
    pub limits: Limits,
    /// The app's database (run history); `None` only in route tests and benchmarks that do
    /// not need one (jobs then run unrecorded, `Runs` answers 503).
    pub store: Option<runs::Store>,
    /// One permit per running job ([`MAX_RUNNING_JOBS`]).
    pub job_slots: Arc<tokio::sync::Semaphore>,
    /// How documents are kept; `None` when no bucket is configured (`Documents` answer 503).
    pub documents: Option<documents::DocumentSettings>,
    /// Wakes the document delete outbox ([`documents::worker::run_outbox`]).
    pub outbox: documents::OutboxSignal,
}

/// The app's AWS access: the temporary credentials (asked for before every S3 call, so a
/// failure names Credential Store or STS; read by readiness and the metrics) and S3 behind
/// `awslink`'s seam (the real client, or `awslink::s3::MemoryS3` in route tests).
#[derive(Clone)]
pub struct AwsAccess {
    /// The credential cache.
    pub credentials: awslink::RoleCredentials,
    /// S3.
    pub s3: Arc<dyn awslink::s3::S3Backend>,
}

impl AwsAccess {
    /// The access a link from the bindings gives.
    pub fn from_link(link: &awslink::AwsLink) -> Self {
        Self {
            credentials: link.credentials.clone(),
            s3: link.backend(),
        }
    }
}

/// Limits of the app's calls and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deadline of one call to a dependency (S3 ListBuckets, getting AWS credentials).
    pub upstream_timeout: Duration,
    /// Most entities in one OData response page (server-driven paging; clients may ask for
    /// fewer with `Prefer: odata.maxpagesize`).
    pub max_page_size: usize,
    /// How long one request may take, all dependency calls included; past it the answer is
    /// a 504 OData error from [`upstream::request_timed_out`], inside the request log, so it
    /// is logged and counted like every other answer.
    pub request_timeout: Duration,
    /// How long a job endpoint waits for its job before answering `202 Accepted` with the
    /// run's URL (the job goes on and finishes in the history).
    pub job_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            upstream_timeout: Duration::from_secs(15),
            max_page_size: 1000,
            request_timeout: Duration::from_secs(60),
            job_wait: Duration::from_secs(10),
        }
    }
}

/// Settings for [`AppState::from_vcap`] that do not come from the bindings.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// JWKS cache settings (its `extra_roots_pem` are trusted for every outbound call).
    pub jwks: xsuaa::jwks::JwksOptions,
    /// Who may read `/metrics`.
    pub metrics: metrics::MetricsAccess,
    /// Deadlines and page sizes.
    pub limits: Limits,
    /// The `xsuaa` instance to use when several are bound.
    pub xsuaa_instance: Option<String>,
    /// The user-provided AWS config instance (default `aws-config`).
    pub aws_config_instance: Option<String>,
    /// The `credstore` instance to use when several are bound.
    pub credstore_instance: Option<String>,
    /// The STS client's own timeouts (connect, attempt, operation).
    pub sts_timeouts: awslink::Timeouts,
    /// The S3 client's own timeouts.
    pub s3_timeouts: awslink::Timeouts,
    /// The app's data directory, where the SQLite database lives when no PostgreSQL is bound
    /// (`None`: [`crate::config::data_dir`]'s default).
    pub data_dir: Option<std::path::PathBuf>,
    /// The `postgresql-db` instance to use when several are bound.
    pub database_instance: Option<String>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            jwks: xsuaa::jwks::JwksOptions::default(),
            metrics: metrics::MetricsAccess::Open,
            limits: Limits::default(),
            xsuaa_instance: None,
            aws_config_instance: None,
            credstore_instance: None,
            sts_timeouts: awslink::Timeouts::STS,
            s3_timeouts: awslink::Timeouts::S3,
            data_dir: None,
            database_instance: None,
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// This state with other limits; only before it is shared (at start-up).
    pub fn with_limits(mut self, limits: Limits) -> anyhow::Result<Self> {
        let inner = Arc::get_mut(&mut self.0)
            .ok_or_else(|| anyhow::anyhow!("the app state is already shared"))?;
        inner.limits = limits;
        Ok(self)
    }

    /// This state with document settings; only before it is shared (at start-up).
    pub fn with_documents(mut self, settings: documents::DocumentSettings) -> anyhow::Result<Self> {
        let inner = Arc::get_mut(&mut self.0)
            .ok_or_else(|| anyhow::anyhow!("the app state is already shared"))?;
        inner.documents = Some(settings);
        Ok(self)
    }

    /// This state with the app's database; only before it is shared (at start-up).
    pub fn with_store(mut self, store: runs::Store) -> anyhow::Result<Self> {
        let inner = Arc::get_mut(&mut self.0)
            .ok_or_else(|| anyhow::anyhow!("the app state is already shared"))?;
        inner.store = Some(store);
        Ok(self)
    }

    /// Builds the whole state from the bindings, as on Cloud Foundry: XSUAA (`xsuaa`), the AWS
    /// settings (the user-provided `aws-config` and `privatelink`), the Credential Store
    /// holding the long-term AWS keys (`credstore`), and the database (`postgresql-db` when
    /// bound, else SQLite in the data directory; see [`database`]). Makes no network call: the
    /// database is connected and migrated on first use.
    pub fn from_vcap(vcap: &cfenv::Vcap, options: AppOptions) -> anyhow::Result<Self> {
        let xsuaa = vcap.xsuaa(options.xsuaa_instance.as_deref())?;
        let link = aws_link(vcap, &options)?;
        let store = runs::Store::connect_lazy(&database(vcap, &options)?)?;
        let bucket = link.settings.bucket.clone();
        let state = Self::build(
            &xsuaa,
            options.jwks,
            AwsAccess::from_link(&link),
            options.metrics,
        )?;
        let state = state.with_limits(options.limits)?.with_store(store)?;
        match bucket {
            Some(bucket) => state.with_documents(crate::config::documents(bucket)?),
            None => Ok(state),
        }
    }

    /// Builds the state from the `xsuaa` binding (validator with a JWKS cache, token client)
    /// and the AWS access; `jwks.extra_roots_pem` are trusted for every XSUAA call. Makes no
    /// network call.
    pub fn build(
        xsuaa: &cfenv::XsuaaBinding,
        jwks: xsuaa::jwks::JwksOptions,
        aws: AwsAccess,
        metrics_access: metrics::MetricsAccess,
    ) -> anyhow::Result<Self> {
        let extra_roots_pem = jwks.extra_roots_pem.clone();
        let keys: Arc<dyn xsuaa::jwks::KeySource> =
            Arc::new(xsuaa::jwks::JwksCache::new(&xsuaa.uaadomain, jwks)?);
        Self::with_keys(xsuaa, keys, &extra_roots_pem, aws, metrics_access)
    }

    /// [`AppState::build`] with the token signing keys from `keys` instead of a JWKS cache
    /// over the binding's `uaadomain`: for route tests, which sign their own tokens.
    pub fn with_keys(
        xsuaa: &cfenv::XsuaaBinding,
        keys: Arc<dyn xsuaa::jwks::KeySource>,
        extra_roots_pem: &[Vec<u8>],
        aws: AwsAccess,
        metrics_access: metrics::MetricsAccess,
    ) -> anyhow::Result<Self> {
        let extra_roots_pem = extra_roots_pem.to_vec();
        let validator = xsuaa::validate::Validator::new(
            xsuaa::validate::ValidatorConfig::from_binding(xsuaa),
            keys.clone(),
        );
        let tokens = xsuaa::client::TokenClient::from_binding(
            xsuaa,
            &xsuaa::client::ClientOptions {
                extra_roots_pem,
                ..xsuaa::client::ClientOptions::default()
            },
        )?;
        Ok(Self::new(Inner {
            validator,
            keys,
            zone_id: xsuaa.zoneid.clone(),
            tokens,
            sessions: SessionStore::new(Duration::from_secs(30 * 60), MAX_SESSIONS)
                .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?,
            xsuaa_url: xsuaa.url.clone(),
            clientid: xsuaa.clientid.clone(),
            xsappname: xsuaa.xsappname.clone(),
            metrics: Arc::new(metrics::Metrics::new(
                metrics_access,
                Some(aws.credentials.clone()),
            )),
            aws,
            limits: Limits::default(),
            store: None,
            job_slots: Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING_JOBS)),
            documents: None,
            outbox: documents::OutboxSignal::default(),
        }))
    }
}

/// Which database the app uses: the `postgresql-db` binding (`options.database_instance`, or
/// the one bound) when there is one, else SQLite in `options.data_dir` (default
/// [`crate::config::data_dir`]). `bridge serve` and `bridge runs` decide the same way.
pub fn database(vcap: &cfenv::Vcap, options: &AppOptions) -> anyhow::Result<runs::StoreConfig> {
    let data_dir = match &options.data_dir {
        Some(d) => d.clone(),
        None => crate::config::data_dir(),
    };
    Ok(runs::StoreConfig::from_vcap(
        vcap,
        options.database_instance.as_deref(),
        &data_dir,
    )?)
}

/// The app's AWS access from the bindings: the `aws-config` and `privatelink` settings, the
/// long-term keys from the `credstore` binding (cached), the STS credential cache and the S3
/// client, with the instances, extra roots (`options.jwks.extra_roots_pem`) and SDK timeouts
/// of `options`. Makes no network call. Benchmarks build their baseline with it too, so both
/// sides use the very same client.
pub fn aws_link(vcap: &cfenv::Vcap, options: &AppOptions) -> anyhow::Result<awslink::AwsLink> {
    use anyhow::Context as _;
    let extra_roots_pem = &options.jwks.extra_roots_pem;
    let settings = awslink::AwsSettings::from_vcap(vcap, options.aws_config_instance.as_deref())?;
    let store = credstore::Client::from_binding(
        &vcap.credstore(options.credstore_instance.as_deref())?,
        &credstore::ClientOptions {
            extra_roots_pem: extra_roots_pem.clone(),
            ..credstore::ClientOptions::default()
        },
    )
    .context("cannot set up the Credential Store client")?;
    let keys = awslink::LongTermKeys::cached(store, &settings);
    let link_options = awslink::LinkOptions {
        extra_roots_pem: extra_roots_pem.clone(),
        resolve: localhost_resolve(&settings),
        sts_timeouts: options.sts_timeouts,
        s3_timeouts: options.s3_timeouts,
    };
    Ok(awslink::AwsLink::new(settings, keys, &link_options)?)
}

/// Host names under `.localhost` resolve to loopback (RFC 6761): the dev stack's Private Link
/// name `*.vpce-dev.s3.<region>.localhost` works without touching the system resolver. A real
/// Private Link host name is never under `.localhost`, so production gets no override.
fn localhost_resolve(settings: &awslink::AwsSettings) -> Vec<(String, std::net::IpAddr)> {
    let Some(name) = settings.s3_endpoint.url().and_then(|u| u.host_str()) else {
        return Vec::new();
    };
    if name == "localhost" || name.ends_with(".localhost") {
        vec![(
            "localhost".to_owned(),
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        )]
    } else {
        Vec::new()
    }
}

/// Every route and middleware of the app.
pub fn build_router(state: AppState) -> Router {
    Router::new()
        .route("/", get(routes::index))
        .route("/health", get(routes::health))
        .route("/health/ready", get(routes::ready))
        .route("/metrics", get(routes::metrics))
        .route("/assets/index.js", get(routes::index_js))
        .route("/assets/index.css", get(routes::index_css))
        .route("/favicon.ico", get(routes::favicon))
        .merge(catalog::router())
        .route("/jobs/ping", get(jobs::ping).post(jobs::ping))
        .route("/jobs/sleep", axum::routing::post(jobs::sleep))
        .route("/jobs/runs/{id}", get(jobs::run_status))
        .route(
            "/jobs/reconcile",
            axum::routing::post(documents::worker::reconcile_job),
        )
        .route("/api/me", get(routes::me))
        .route("/login", get(login::login))
        .route("/login/callback", get(login::callback))
        .route("/logout", get(login::logout))
        .fallback(|| async { ApiError::NotFound("no such resource".into()) })
        .layer(middleware::from_fn_with_state(state.clone(), auth::csrf))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_deadline,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

/// [`Limits::request_timeout`] for every request but a document upload, which takes as long
/// as its bytes take and is bounded by its idle timeout instead
/// ([`documents::DocumentSettings::transfer_idle_timeout`]).
async fn request_deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::PUT
        && req.uri().path().starts_with("/catalog/")
        && req.uri().path().ends_with("/content")
    {
        return next.run(req).await;
    }
    let limit = state.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => upstream::request_timed_out(limit).into_response(),
    }
}

/// One log line per request: method, matched route (not the raw path, which may carry ids),
/// status, duration, request id; server errors with their detail at warn. Never headers or
/// bodies.
async fn log_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = req
        .headers()
        .get("x-vcap-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(request_id);
    let mut resp = next.run(req).await;
    let route = resp
        .extensions()
        .get::<catalog::RouteLabel>()
        .map_or(route, |l| l.0.clone());
    let status = resp.status().as_u16();
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let detail = resp.extensions().get::<ErrorDetail>().map(|d| d.0.clone());
    state
        .metrics
        .request(&method, &route, status, started.elapsed());
    // Made-up methods are logged by their label too: a method is any token a client likes.
    let method = metrics::method_label(&method);
    if status >= 500 {
        tracing::warn!(http.method = %method, http.route = %route, http.status = status, duration_ms, request.id = %request_id, error.detail = detail.as_deref().unwrap_or(""), "request failed");
    } else {
        tracing::info!(http.method = %method, http.route = %route, http.status = status, duration_ms, request.id = %request_id, "request");
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// A new request id: 16 hex digits, unique per process (a counter) and unlikely to repeat across
/// processes (a per-process random key from the OS, through std's `RandomState`). Request ids
/// are not secrets, so this stays off the cryptographic random generator, whose first use
/// costs tens of milliseconds (see [`warm_up`]).
fn request_id() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = KEY.get_or_init(Default::default).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", h.finish())
}

/// Starts work that the first requests would otherwise wait for, on a background thread: the
/// first draw from aws-lc's random generator (it sets up its jitter entropy source then, tens of
/// milliseconds of CPU) happens while the app loads its bindings and binds its port, not in the
/// first sign-in or TLS handshake.
pub fn warm_up() {
    let _ = std::thread::Builder::new()
        .name("warm-up".into())
        .spawn(|| {
            let _ = session::random_id();
        });
}

/// The app's connection limits by default: at most 2048 connections, 10 s for a request's
/// headers, 120 s idle keep-alive, 10 s for open requests to finish at shutdown (CF sends
/// SIGKILL 10 s after SIGTERM). See `httpserve`.
pub fn server_limits() -> httpserve::Limits {
    httpserve::Limits {
        max_connections: 2048,
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(120),
        handshake_timeout: Duration::from_secs(10),
        shutdown_grace: Duration::from_secs(8),
        quiet: false,
    }
}

/// Serves `router` on `listener` under [`server_limits`] until `shutdown` resolves, then
/// drains open requests (dropping what has not finished after the grace period).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, server_limits(), shutdown).await
}

/// [`serve`] under other limits.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: httpserve::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    httpserve::serve(
        listener,
        httpserve::Transport::Plain,
        limits,
        move |_| router.clone(),
        shutdown,
    )
    .await;
    Ok(())
}
