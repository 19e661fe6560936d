//! `bridge token`: a client-credentials token of the bound XSUAA, for curl and scripts. Stdout
//! carries the token and nothing else; everything else goes to stderr.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use cfenv::{Env, Vcap};

use crate::config;
use clap::Args;

/// Prints the token.
#[allow(clippy::print_stdout)]
pub async fn run(args: TokenArgs) -> ExitCode {
    let client = match client(&args) {
        Ok(c) => c,
        Err(e) => return super::misconfigured(&e),
    };
    match client
        .access_token_for(&xsuaa::client::TokenRequest {
            scopes: args.scopes.clone(),
            zone_id: args.zone.clone(),
        })
        .await
    {
        Ok(token) => {
            println!("{}", token.token.expose());
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(&anyhow::Error::new(e).context("cannot get a token from XSUAA")),
    }
}

fn client(args: &TokenArgs) -> anyhow::Result<xsuaa::client::TokenClient> {
    let vcap = Vcap::from_env(&Env::from_process()).context(
        "no XSUAA binding: run inside Cloud Foundry, or under `bridge dev` export the \
         VCAP_SERVICES_FILE_PATH and BRIDGE_EXTRA_CA_CERTS it prints",
    )?;
    let binding = vcap.xsuaa(args.xsuaa_instance.as_deref())?;
    Ok(xsuaa::client::TokenClient::from_binding(
        &binding,
        &xsuaa::client::ClientOptions {
            timeout: Duration::from_secs(args.timeout.max(1)),
            extra_roots_pem: config::extra_roots()?,
            ..xsuaa::client::ClientOptions::default()
        },
    )?)
}

/// Arguments of `bridge token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The `xsuaa` instance to use when several are bound.
    #[arg(long, env = "BRIDGE_XSUAA_INSTANCE")]
    pub xsuaa_instance: Option<String>,
    /// Request only these scopes (repeatable); default: all the client's authorities.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Get the token for another zone (tenant) id (`x-zid` header).
    #[arg(long)]
    pub zone: Option<String>,
    /// Timeout of the token request, in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}
