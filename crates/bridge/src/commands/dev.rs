//! `bridge dev`: starts the local stand-ins, prints where they are and how to point the CLI and
//! the app at them, and runs until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use anyhow::Context as _;
use devstack::{DevConfig, DevStack};

use crate::cli::DevArgs;

/// Runs the dev stack until interrupted.
pub async fn run(args: DevArgs) -> ExitCode {
    let mut config = DevConfig::new(&args.data_dir);
    config.host = args.host;
    config.credstore_port = args.credstore_port;
    let stack = match DevStack::start(config)
        .await
        .context("cannot start the dev stack")
    {
        Ok(s) => s,
        Err(e) => return super::fail(&e),
    };
    print_banner(&stack);
    if !args.exit_after_start {
        super::shutdown_signal().await;
        tracing::info!("stopping the dev stack");
    }
    stack.stop().await;
    ExitCode::SUCCESS
}

#[allow(clippy::print_stdout)]
fn print_banner(stack: &DevStack) {
    let masked = mask(stack.vcap_services());
    println!("btp-aws-bridge dev stack is up");
    println!();
    println!("  Credential Store  {}", stack.credstore_url());
    println!("  data directory    {}", stack.data_dir().display());
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
    println!("  bridge creds -n demo list");
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
