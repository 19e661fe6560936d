//! `bridge rotate-keys`: asks the local XSUAA of a running `bridge dev` to rotate its signing
//! key, authenticated with the admin secret in the data directory (where
//! `devstack::layout` says).
//! Apps keep accepting tokens signed with the previous key while it stays published.

use std::process::ExitCode;

use anyhow::{Context as _, anyhow};

use clap::Args;
use std::path::PathBuf;

/// Rotates and prints the new key id.
#[allow(clippy::print_stdout)]
pub async fn run(args: RotateKeysArgs) -> ExitCode {
    match rotate(&args).await {
        Ok(kid) => {
            println!("active signing key: {kid}");
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(&e),
    }
}

async fn rotate(args: &RotateKeysArgs) -> anyhow::Result<String> {
    let dir = &args.data_dir;
    let vcap_path = devstack::layout::vcap_services(dir);
    let vcap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&vcap_path).with_context(|| {
            format!(
                "{}: is `bridge dev` running with this --data-dir?",
                vcap_path.display()
            )
        })?)
        .with_context(|| format!("{}: not JSON", vcap_path.display()))?;
    let url = vcap["xsuaa"][0]["credentials"]["url"]
        .as_str()
        .ok_or_else(|| anyhow!("{}: no xsuaa binding", vcap_path.display()))?;
    let secret_path = devstack::layout::xsuaa_admin_secret(&devstack::layout::xsuaa_dir(dir));
    let secret = std::fs::read_to_string(&secret_path)
        .with_context(|| format!("cannot read {}", secret_path.display()))?;
    let ca_path = devstack::layout::ca_cert(dir);
    let ca =
        std::fs::read(&ca_path).with_context(|| format!("cannot read {}", ca_path.display()))?;
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).context("ca.pem is not PEM")?)
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let resp = http
        .post(format!("{url}/admin/rotate-keys"))
        .bearer_auth(secret.trim())
        .send()
        .await
        .map_err(|e| anyhow!("local XSUAA at {url} unreachable: is `bridge dev` running? ({e})"))?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(anyhow!(
            "local XSUAA refused (HTTP {status}): {}",
            body["error_description"]
                .as_str()
                .unwrap_or("no description")
        ));
    }
    body["active_kid"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("unexpected answer from the local XSUAA"))
}

/// Arguments of `bridge rotate-keys`.
#[derive(Debug, Args)]
pub struct RotateKeysArgs {
    /// The data directory of the running `bridge dev`.
    #[arg(long, env = "BRIDGE_DEV_DATA_DIR", default_value = ".bridge-dev")]
    pub data_dir: PathBuf,
}
