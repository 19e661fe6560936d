//! `bridge dev`: starts the local stand-ins and the app, wired only through the generated
//! `VCAP_SERVICES`, prints where everything is and a user to sign in with, and runs until
//! Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use cfenv::Vcap;
use devstack::{DevConfig, DevStack};
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
    print_banner(&stack, &app_url);
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
        ..AppOptions::default()
    };
    let state = AppState::from_vcap(&vcap, options)?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (use --app-port)"))?;
    Ok((listener, state))
}

#[allow(clippy::print_stdout)]
fn print_banner(stack: &DevStack, app_url: &str) {
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
    println!("  data directory    {}", stack.data_dir().display());
    println!();
    println!("  OData catalog     {app_url}/catalog/  ($metadata, Buckets, getBuckets())");
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
    println!("  (cargo install --path crates/bridge --locked puts `bridge` on the PATH)");
    println!();
    println!("Press Ctrl-C to stop.");
}

/// Fields of a generated binding whose values are secret.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "clientsecret",
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
    /// Exit right after start-up instead of waiting for Ctrl-C (for scripts and smoke tests).
    #[arg(long, hide = true)]
    pub exit_after_start: bool,
}
