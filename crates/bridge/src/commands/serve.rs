//! `bridge serve`: the app, configured from `VCAP_SERVICES` / `VCAP_APPLICATION` / `PORT` alone,
//! as on Cloud Foundry; stops gracefully on SIGTERM or Ctrl-C.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context as _;
use cfenv::{Env, Vcap};
use tokio::net::TcpListener;

use crate::app::metrics::MetricsAccess;
use crate::app::{AppOptions, AppState, build_router, serve_with};
use crate::config;
use clap::Args;

/// Port used when neither `--port` nor `PORT` is set (CAP's local default).
pub const DEFAULT_PORT: u16 = 4004;

/// Runs the app until SIGTERM/Ctrl-C.
pub async fn run(args: ServeArgs) -> ExitCode {
    crate::app::warm_up();
    let env = Env::from_process();
    let (state, addr, limits, watchdog) = match prepare(&args, &env) {
        Ok(x) => x,
        Err(e) => return super::misconfigured(&e),
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => return super::fail(&anyhow::anyhow!("cannot listen on {addr}: {e}")),
    };
    // Migrate now, so a first job call does not pay for it; a database that is down does not
    // stop the app: the job routes answer 503 until it is back, and migrate then.
    if let Some(store) = &state.store {
        match store.ready().await {
            Ok(()) => tracing::info!(db.backend = store.backend_name(), "database ready"),
            Err(e) => {
                tracing::warn!(db.backend = store.backend_name(), error.detail = %e, "database not available; job routes answer 503 until it is")
            }
        }
    }
    if let Some(w) = watchdog {
        tokio::spawn(w.run(chrono::Utc::now(), std::future::pending()));
    }
    if state.documents.is_some() {
        tokio::spawn(crate::app::documents::worker::run_outbox(
            state.clone(),
            std::future::pending(),
        ));
    }
    tracing::info!(listen.addr = %addr, "bridge serve listening");
    match serve_with(
        listener,
        build_router(state),
        limits,
        super::shutdown_signal(),
    )
    .await
    {
        Ok(()) => {
            tracing::info!("bridge serve stopped");
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(&anyhow::anyhow!("server failed: {e}")),
    }
}

fn prepare(
    args: &ServeArgs,
    env: &Env,
) -> anyhow::Result<(
    AppState,
    SocketAddr,
    httpserve::Limits,
    Option<crate::app::watchdog::Watchdog>,
)> {
    let vcap = Vcap::from_env(env)?;
    let port = match args.port {
        Some(p) => p,
        None => cfenv::port(env)?.unwrap_or(DEFAULT_PORT),
    };
    // On Cloud Foundry (VCAP_APPLICATION set) the router reaches us on all interfaces;
    // elsewhere stay on loopback unless told otherwise.
    let on_cf = env.var(cfenv::vars::VCAP_APPLICATION).is_some();
    let host = args.host.unwrap_or(if on_cf {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    });
    let options = AppOptions {
        jwks: xsuaa::jwks::JwksOptions {
            extra_roots_pem: config::extra_roots()?,
            ..xsuaa::jwks::JwksOptions::default()
        },
        metrics: config::metrics_access(on_cf)?,
        limits: config::limits()?,
        xsuaa_instance: args.xsuaa_instance.clone(),
        aws_config_instance: args.aws_config_instance.clone(),
        credstore_instance: args.credstore_instance.clone(),
        data_dir: Some(args.database.data_dir()),
        database_instance: args.database.database_instance.clone(),
        ..AppOptions::default()
    };
    if options.metrics == MetricsAccess::Disabled {
        tracing::info!("/metrics is off: set BRIDGE_METRICS_TOKEN to serve it on Cloud Foundry");
    }
    let limits = config::server_limits()?;
    let extra_roots = options.jwks.extra_roots_pem.clone();
    let aws_config_instance = options.aws_config_instance.clone();
    let state = AppState::from_vcap(&vcap, options).context("cannot set up the app")?;
    let files: Vec<(String, String)> = crate::app::watchdog::BUILT_IN_SCHEDULES
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let watchdog = crate::app::watchdog::from_vcap(
        &vcap,
        state.metrics.clone(),
        state.store.as_ref(),
        aws_config_instance.as_deref(),
        &files,
        &extra_roots,
    )
    .context("alerts")?;
    Ok((state, SocketAddr::new(host, port), limits, watchdog))
}

/// Arguments of `bridge serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on (default: `PORT`, else 4004).
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on (default: all interfaces on Cloud Foundry, else loopback).
    #[arg(long)]
    pub host: Option<std::net::IpAddr>,
    /// The `xsuaa` instance to use when several are bound.
    #[arg(long, env = "BRIDGE_XSUAA_INSTANCE")]
    pub xsuaa_instance: Option<String>,
    /// The user-provided service with the AWS settings (default `aws-config`).
    #[arg(long, env = "BRIDGE_AWS_CONFIG_INSTANCE")]
    pub aws_config_instance: Option<String>,
    /// The `credstore` instance holding the AWS keys, when several are bound.
    #[arg(long, env = "BRIDGE_CREDSTORE_INSTANCE")]
    pub credstore_instance: Option<String>,
    /// Where the app's database is.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Where the app's database is: the `postgresql-db` binding when bound, else SQLite in the
/// data directory (`bridge serve` and `bridge runs` share these).
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// The data directory, holding `runs.db` when no PostgreSQL is bound (default: `bridge` in
    /// the temporary directory).
    #[arg(long, env = "BRIDGE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// The `postgresql-db` instance to use when several are bound.
    #[arg(long, env = "BRIDGE_DATABASE_INSTANCE", value_name = "NAME")]
    pub database_instance: Option<String>,
}

impl DatabaseArgs {
    /// The data directory: `--data-dir`, else [`config::data_dir`].
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data_dir.clone().unwrap_or_else(config::data_dir)
    }
}
