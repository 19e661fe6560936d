//! `bridge dev`: starts the local stand-ins and the app, wired only through the generated
//! `VCAP_SERVICES`, then the AWS → BTP side for the app (a local Secrets Manager, Lambda
//! running the real caller `bootstrap`, and Scheduler firing the schedule files), prints
//! where everything is and a user to sign in with, and runs until Ctrl-C or SIGTERM.
//!
//! What the local Scheduler and Lambda do with each occurrence (fired, attempts, the Lambda
//! request id, result, dead letters) goes into the app's database beside its run history, so
//! `bridge runs` answers for any occurrence from both sides.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use cfenv::Vcap;
use devstack::scheduled::{CALLER_FUNCTION, ScheduledCalls, ScheduledConfig};
use devstack::{DevConfig, DevStack};
use std::sync::Arc;
use tokio::net::TcpListener;

use crate::app::{AppOptions, AppState, build_router, serve_with};
use crate::config;
use clap::Args;
use std::path::PathBuf;

/// Runs the dev stack and the app until interrupted.
pub async fn run(args: DevArgs) -> ExitCode {
    let mut config = DevConfig::new(&args.data_dir);
    config.host = args.host;
    config.credstore_port = args.credstore_port;
    config.xsuaa_port = args.xsuaa_port;
    config.sts_port = args.sts_port;
    config.s3_port = args.s3_port;
    config.alerts_port = args.alerts_port;
    config.xs_security_path = args.xs_security.clone();
    config.users_path = args.users.clone();
    let stack = match DevStack::start(config)
        .await
        .context("cannot start the dev stack")
    {
        Ok(s) => s,
        Err(e) => return super::fail(&e),
    };
    let (listener, state) = match start_app(&stack, SocketAddr::new(args.host, args.app_port)).await
    {
        Ok(x) => x,
        Err(e) => {
            stack.stop().await;
            return super::fail(&e);
        }
    };
    let app_url = match listener.local_addr() {
        Ok(a) => format!("http://{a}"),
        Err(e) => return super::fail(&anyhow::anyhow!("app listener: {e}")),
    };
    let scheduled = match start_scheduled(&stack, &args, &app_url, &state).await {
        Ok(s) => s,
        Err(e) => {
            stack.stop().await;
            return super::fail(&e);
        }
    };
    if let Err(e) = start_watchdog(&stack, &args, &state) {
        stack.stop().await;
        return super::fail(&e.context("cannot start the alert watchdog"));
    }
    if state.documents.is_some() {
        if let Err(e) = crate::app::documents::demo::seed(&state).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot add the demo documents");
        }
        tokio::spawn(crate::app::documents::worker::run_outbox(
            state.clone(),
            std::future::pending(),
        ));
    }
    print_banner(&stack, &app_url, scheduled.as_ref());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = match config::server_limits() {
        Ok(l) => l,
        Err(e) => {
            stack.stop().await;
            return super::misconfigured(&e);
        }
    };
    let app = tokio::spawn(serve_with(
        listener,
        build_router(state),
        limits,
        async move {
            let _ = stopped.await;
        },
    ));
    if !args.exit_after_start {
        super::shutdown_signal().await;
        tracing::info!("stopping the dev stack");
    }
    let _ = stop.send(());
    let app_result = app.await;
    if let Some(s) = scheduled {
        s.stop().await;
    }
    stack.stop().await;
    match app_result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => super::fail(&anyhow::anyhow!("app server failed: {e}")),
        Err(e) => super::fail(&anyhow::anyhow!("app server task failed: {e}")),
    }
}

/// The app, configured exactly as on Cloud Foundry: from the generated `VCAP_SERVICES` (parsed
/// by `cfenv`), trusting the dev CA.
async fn start_app(stack: &DevStack, addr: SocketAddr) -> anyhow::Result<(TcpListener, AppState)> {
    let vcap = Vcap::from_json(
        &stack.vcap_services().to_string(),
        &stack.vcap_path().display().to_string(),
    )?;
    let options = AppOptions {
        jwks: xsuaa::jwks::JwksOptions {
            extra_roots_pem: vec![stack.ca_pem().as_bytes().to_vec()],
            ..xsuaa::jwks::JwksOptions::default()
        },
        metrics: config::metrics_access(false)?,
        limits: config::limits()?,
        data_dir: Some(app_data_dir(stack)),
        ..AppOptions::default()
    };
    let state = AppState::from_vcap(&vcap, options)?;
    if let Some(store) = &state.store {
        store
            .ready()
            .await
            .with_context(|| format!("the app's database ({})", store.backend_name()))?;
    }
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (use --app-port)"))?;
    Ok((listener, state))
}

use crate::app::watchdog::BUILT_IN_SCHEDULES;

/// Starts the AWS → BTP side for the app at `app_url`, unless `--no-schedules`.
async fn start_scheduled(
    stack: &DevStack,
    args: &DevArgs,
    app_url: &str,
    state: &AppState,
) -> anyhow::Result<Option<ScheduledCalls>> {
    if args.no_schedules {
        return Ok(None);
    }
    let schedules = dev_schedules(args)?;
    let bootstrap = locate_bootstrap(args.lambda_bootstrap.as_deref())?;
    let mut config = ScheduledConfig::new(app_url, bootstrap);
    config.schedules = schedules;
    config.lambda_port = args.lambda_port;
    config.scheduler_port = args.scheduler_port;
    config.secrets_port = args.secrets_port;
    if let Some(delays) = &args.lambda_retry_delays {
        config.event_invoke.retry_delays = delays.0;
    }
    if !args.catch_up.is_empty() || args.default_catch_up.is_some() {
        let aws = stack.aws_identity();
        let mut sc = devstack::scheduler::SchedulerConfig::new(
            stack.data_dir(),
            aws.region(),
            aws.account_id(),
        );
        for (name, policy) in &args.catch_up {
            sc.catch_up.insert(name.clone(), *policy);
        }
        if let Some(policy) = args.default_catch_up {
            sc.default_catch_up = policy;
        }
        config.scheduler = Some(sc);
    }
    if let Some(store) = state.store.as_ref() {
        let sink = Arc::new(DeliveryRecorder::start(store.clone()));
        config.lambda_sink = sink.clone();
        config.delivery_sink = sink;
    }
    let scheduled = stack
        .start_scheduled(config)
        .await
        .context("cannot start the local Lambda and Scheduler")?;
    Ok(Some(scheduled))
}

/// The schedule files of `--schedules`, else the built-in ones.
fn dev_schedules(args: &DevArgs) -> anyhow::Result<Vec<(String, String)>> {
    Ok(match &args.schedules {
        Some(dir) => schedule_files(dir)?,
        None => BUILT_IN_SCHEDULES
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect(),
    })
}

/// The alert watchdog over the dev schedules, sending to the local Alert Notification
/// service (its binding is in the generated `VCAP_SERVICES`).
fn start_watchdog(stack: &DevStack, args: &DevArgs, state: &AppState) -> anyhow::Result<()> {
    if args.no_schedules {
        return Ok(());
    }
    let vcap = Vcap::from_json(
        &stack.vcap_services().to_string(),
        &stack.vcap_path().display().to_string(),
    )?;
    let watchdog = crate::app::watchdog::from_vcap(
        &vcap,
        state.metrics.clone(),
        state.store.as_ref(),
        None,
        &dev_schedules(args)?,
        &[stack.ca_pem().as_bytes().to_vec()],
    )?;
    if let Some(w) = watchdog {
        tokio::spawn(w.run(chrono::Utc::now(), std::future::pending()));
    }
    Ok(())
}

/// The `*.json` files of `dir`, sorted by name.
fn schedule_files(dir: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("--schedules {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).with_context(|| p.display().to_string())?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

/// The caller's `bootstrap`: `--lambda-bootstrap`, else the one built next to this binary.
/// Under `cargo run` it is (re)built first with the same cargo (a no-op when up to date), so
/// `cargo run -p bridge -- dev` alone runs the real function.
fn locate_bootstrap(explicit: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        anyhow::ensure!(
            p.is_file(),
            "--lambda-bootstrap {}: no such file",
            p.display()
        );
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe().context("cannot tell where this binary is")?;
    let sibling = exe.with_file_name("bootstrap");
    if let Ok(cargo) = std::env::var("CARGO")
        && std::env::var_os("CARGO_MANIFEST_DIR").is_some()
    {
        tracing::info!("building the caller Lambda's bootstrap (cargo build -p caller)");
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "caller", "--bin", "bootstrap"]);
        if exe.components().any(|c| c.as_os_str() == "release") {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .context("cannot run cargo to build the bootstrap")?;
        anyhow::ensure!(status.success(), "cargo build -p caller failed ({status})");
    }
    anyhow::ensure!(
        sibling.is_file(),
        "no Lambda bootstrap at {}: build it with `cargo build -p caller`, or pass \
         --lambda-bootstrap FILE (or --no-schedules to run without the AWS → BTP side)",
        sibling.display()
    );
    Ok(sibling)
}

/// Writes what the local Scheduler and Lambda report into the app's database (the
/// `deliveries` beside the run history), off their tasks.
struct DeliveryRecorder {
    tx: tokio::sync::mpsc::UnboundedSender<runs::NewDelivery>,
}

impl DeliveryRecorder {
    fn start(store: runs::Store) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<runs::NewDelivery>();
        tokio::spawn(async move {
            while let Some(d) = rx.recv().await {
                if let Err(e) = store.record_delivery(&d).await {
                    tracing::warn!(error.detail = %e, "cannot record a delivery");
                }
            }
        });
        Self { tx }
    }
}

impl devstack::scheduler::delivery::DeliverySink for DeliveryRecorder {
    fn record(&self, d: &devstack::scheduler::delivery::Delivery) {
        use devstack::scheduler::delivery::Outcome;
        let (outcome, error) = match &d.outcome {
            Outcome::Failed { error, .. } => (runs::DeliveryOutcome::Failed, error.clone()),
            Outcome::DeadLettered { error, .. } | Outcome::Dropped { error } => {
                (runs::DeliveryOutcome::DeadLettered, error.clone())
            }
            // Fired and accepted occurrences are recorded by the Lambda's side, with its
            // request id and result; skipped ones are logged by the scheduler.
            _ => return,
        };
        let _ = self.tx.send(runs::NewDelivery {
            schedule: d.schedule_arn.clone(),
            nominal_time: d.nominal_time,
            idempotency_key: d.idempotency_key.clone(),
            execution_id: d.execution_id.clone(),
            attempt: d.attempt,
            lambda_request_id: None,
            outcome,
            http_status: None,
            error: Some(format!("scheduler: {error}")),
            at: d.at,
        });
    }
}

impl devstack::lambda::InvocationSink for DeliveryRecorder {
    fn record(&self, r: &devstack::lambda::InvocationRecord) {
        use devstack::lambda::{InvocationType, Outcome};
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(&r.payload) else {
            return;
        };
        let (Some(arn), Some(nominal)) = (
            event.get("scheduleArn").and_then(|v| v.as_str()),
            event
                .get("scheduledTime")
                .and_then(|v| v.as_str())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
        ) else {
            return;
        };
        let (outcome, http_status, error) = match &r.outcome {
            Outcome::Success(body) => {
                let status = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v.get("status").and_then(serde_json::Value::as_u64))
                    .and_then(|s| u16::try_from(s).ok());
                (runs::DeliveryOutcome::Succeeded, status, None)
            }
            Outcome::Error { error_type, body } => {
                let message = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| {
                        v.get("errorMessage")
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                    })
                    .unwrap_or_default();
                let outcome = if r.last && r.invocation_type == InvocationType::Async {
                    runs::DeliveryOutcome::DeadLettered
                } else {
                    runs::DeliveryOutcome::Failed
                };
                (
                    outcome,
                    None,
                    Some(format!("lambda: {error_type}: {message}")),
                )
            }
        };
        let _ = self.tx.send(runs::NewDelivery {
            schedule: arn.to_owned(),
            nominal_time: nominal,
            idempotency_key: schedule::occurrence::key(arn, nominal),
            execution_id: None,
            attempt: r.attempt,
            lambda_request_id: Some(r.request_id.clone()),
            outcome,
            http_status,
            error,
            at: r.started_at + r.duration,
        });
    }
}

#[allow(clippy::print_stdout)]
fn print_banner(stack: &DevStack, app_url: &str, scheduled: Option<&ScheduledCalls>) {
    let masked = mask(stack.vcap_services());
    println!("btp-aws-bridge dev stack is up");
    println!();
    println!("  App               {app_url}/");
    println!("  XSUAA             {}", stack.xsuaa_url());
    println!("  Credential Store  {}", stack.credstore_url());
    println!("  STS               {}", stack.sts_url());
    println!(
        "  S3                {}  (Private Link name *.{})",
        stack.s3_url(),
        stack.private_link_host()
    );
    println!("  Alert Notif.      {}", stack.alerts_url());
    if let Some(s) = scheduled {
        println!("  Secrets Manager   {}", s.secrets_url());
        println!(
            "  Lambda            {}  (function {CALLER_FUNCTION})",
            s.lambda_url()
        );
        println!("  Scheduler         {}", s.scheduler_url());
    }
    println!("  data directory    {}", stack.data_dir().display());
    println!();
    println!(
        "  OData catalog     {app_url}/catalog/  ($metadata, Buckets, getBuckets(), Documents)"
    );
    println!(
        "  Documents         cargo run -q -p bridge -- docs list --user alice   (docs upload FILE…, docs get ID)"
    );
    println!("  Metrics           {app_url}/metrics");
    println!();
    println!("Open {app_url}/ and sign in, then press Load Buckets:");
    for user in stack.dev_users() {
        println!(
            "  user {:<8} password {}   ({})",
            user.username,
            user.password.expose(),
            user.role_collections.join(", ")
        );
    }
    println!();
    println!(
        "Generated VCAP_SERVICES (secrets masked; full file: {}):",
        stack.vcap_path().display()
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&masked).unwrap_or_default()
    );
    println!();
    println!("Use it from another shell:");
    println!(
        "  export VCAP_SERVICES_FILE_PATH={}",
        stack.vcap_path().display()
    );
    println!(
        "  export BRIDGE_EXTRA_CA_CERTS={}",
        stack.ca_path().display()
    );
    println!(
        "  curl -H \"Authorization: Bearer $(cargo run -q -p bridge -- token)\" {app_url}/jobs/ping"
    );
    println!("  cargo run -q -p bridge -- creds -n aws list");
    if scheduled.is_some() {
        println!(
            "  cargo run -q -p bridge -- runs --data-dir {}   (the scheduled calls so far)",
            app_data_dir(stack).display()
        );
    }
    println!("  (cargo install --path crates/bridge --locked puts `bridge` on the PATH)");
    println!();
    println!("Press Ctrl-C to stop.");
}

/// Fields of a generated binding whose values are secret.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "clientsecret",
    "client_secret",
    "client_private_key",
    "key",
    "private_key",
    "certificate",
    "uri",
];

/// A copy of `value` with every secret field replaced by `[redacted]`.
pub fn mask(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                if SECRET_FIELDS.contains(&k.as_str()) && !v.is_null() {
                    (k.clone(), serde_json::Value::from("[redacted]"))
                } else {
                    (k.clone(), mask(v))
                }
            })
            .collect(),
        serde_json::Value::Array(items) => items.iter().map(mask).collect(),
        other => other.clone(),
    }
}

/// Arguments of `bridge dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where keys, certificates and data are kept between runs.
    #[arg(long, env = "BRIDGE_DEV_DATA_DIR", default_value = ".bridge-dev")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port of the app (0: any free port).
    #[arg(long, default_value_t = 4004)]
    pub app_port: u16,
    /// Port of the local Credential Store (0: any free port).
    #[arg(long, default_value_t = 4011)]
    pub credstore_port: u16,
    /// Port of the local XSUAA (0: any free port).
    #[arg(long, default_value_t = 4012)]
    pub xsuaa_port: u16,
    /// Port of the local STS (0: any free port).
    #[arg(long, default_value_t = 4013)]
    pub sts_port: u16,
    /// Port of the local S3 (0: any free port).
    #[arg(long, default_value_t = 4014)]
    pub s3_port: u16,
    /// The application security descriptor the local XSUAA uses (default: the built-in copy
    /// of deploy/btp/xs-security.json).
    #[arg(long, value_name = "FILE")]
    pub xs_security: Option<PathBuf>,
    /// A users file for the local XSUAA (JSON: username, password, role_collections, …);
    /// default: generated users alice (Bridge Editor) and bob (Bridge Viewer).
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Port of the local Lambda (0: any free port).
    #[arg(long, default_value_t = 4015)]
    pub lambda_port: u16,
    /// Port of the local EventBridge Scheduler (0: any free port).
    #[arg(long, default_value_t = 4016)]
    pub scheduler_port: u16,
    /// Port of the local Secrets Manager (0: any free port).
    #[arg(long, default_value_t = 4017)]
    pub secrets_port: u16,
    /// Port of the local Alert Notification service (0: any free port).
    #[arg(long, default_value_t = 4018)]
    pub alerts_port: u16,
    /// A directory of schedule files (`*.json`, the CreateSchedule shape) for the local
    /// Scheduler (default: the built-in copies of deploy/aws/schedules/).
    #[arg(long, value_name = "DIR")]
    pub schedules: Option<PathBuf>,
    /// Run without the local Lambda and Scheduler.
    #[arg(long)]
    pub no_schedules: bool,
    /// The caller Lambda's `bootstrap` (default: the one built next to `bridge`; under
    /// `cargo run` it is built first).
    #[arg(long, env = "BRIDGE_LAMBDA_BOOTSTRAP", value_name = "FILE")]
    pub lambda_bootstrap: Option<PathBuf>,
    /// The local Lambda's delays before its two asynchronous retries, in seconds (Lambda:
    /// about 60,120).
    #[arg(long, value_name = "S1,S2", value_parser = parse_delays)]
    pub lambda_retry_delays: Option<RetryDelays>,
    /// What the local Scheduler does with a schedule's occurrences missed while the stack was
    /// down: `NAME=none|last|all` (repeatable; the CreateSchedule shape has no field for it).
    #[arg(long, value_name = "NAME=POLICY", value_parser = parse_catch_up)]
    pub catch_up: Vec<(String, devstack::scheduler::CatchUp)>,
    /// The catch-up of every other schedule: `none`, `last` (the default: only the latest
    /// missed occurrence fires) or `all` (each, at most 1000).
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    pub default_catch_up: Option<devstack::scheduler::CatchUp>,
    /// Exit right after start-up instead of waiting for Ctrl-C (for scripts and smoke tests).
    #[arg(long, hide = true)]
    pub exit_after_start: bool,
}

/// Two retry delays (`--lambda-retry-delays 60,120`).
#[derive(Debug, Clone, Copy)]
pub struct RetryDelays([std::time::Duration; 2]);

fn parse_delays(text: &str) -> Result<RetryDelays, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [a, b] = parts.as_slice() else {
        return Err("two delays in seconds, e.g. 60,120".into());
    };
    let secs = |s: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 3600.0)
            .map(std::time::Duration::from_secs_f64)
            .ok_or_else(|| format!("`{s}` is not a number of seconds from 0 to 3600"))
    };
    Ok(RetryDelays([secs(a)?, secs(b)?]))
}

/// The app's own data directory inside the dev stack's (its SQLite database).
fn app_data_dir(stack: &DevStack) -> PathBuf {
    stack.data_dir().join("app")
}

fn parse_policy(text: &str) -> Result<devstack::scheduler::CatchUp, String> {
    text.parse::<devstack::scheduler::CatchUp>()
        .map_err(|_| format!("`{text}`: expected none, last or all"))
}

fn parse_catch_up(text: &str) -> Result<(String, devstack::scheduler::CatchUp), String> {
    let (name, policy) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected NAME=none|last|all"))?;
    Ok((name.to_owned(), parse_policy(policy)?))
}
