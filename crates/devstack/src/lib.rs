//! Local stand-ins for the services btp-aws-bridge uses, so the whole architecture runs on a
//! laptop (`bridge dev`) and in tests, with the same client code paths as production.
//!
//! - [`credstore`]: the SAP Credential Store REST API with JWE payloads, data sealed at rest.
//! - [`tls`]: the local CA (created in the data directory) and the TLS accept loop that
//!   exposes client certificates for mTLS.
//! - [`vault`]: encryption at rest for stored secrets.
//! - [`files`]: private (0600), atomically replaced files in the data directory.
//! - [`error`]: start-up errors.
//!
//! [`DevStack::start`] starts everything on loopback and generates the `VCAP_SERVICES` that
//! points the app at it. The app never calls into this crate: it only reads that binding.

pub mod credstore;
pub mod error;
pub mod files;
pub mod tls;
pub mod vault;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use error::DevError;

use crate::credstore::{CredStoreConfig, LocalCredStore};
use crate::tls::DevCa;

/// The instance name of the generated `credstore` binding.
pub const CREDSTORE_INSTANCE: &str = "bridge-credstore";

/// Settings of the dev stack.
#[derive(Debug, Clone)]
pub struct DevConfig {
    /// Where keys, certificates and data are kept between runs.
    pub data_dir: PathBuf,
    /// The address to listen on (loopback by default).
    pub host: IpAddr,
    /// The Credential Store's port (0: any free port).
    pub credstore_port: u16,
    /// Credentials per list page in the local Credential Store.
    pub credstore_page_size: usize,
}

impl DevConfig {
    /// Defaults: `127.0.0.1`, Credential Store on port 4011, 50 credentials per page.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            credstore_port: 4011,
            credstore_page_size: 50,
        }
    }

    /// Every service on an ephemeral port (for tests).
    pub fn ephemeral(mut self) -> Self {
        self.credstore_port = 0;
        self
    }
}

/// The running dev stack.
pub struct DevStack {
    data_dir: PathBuf,
    ca: DevCa,
    credstore: LocalCredStore,
    credstore_url: String,
    vcap: serde_json::Value,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl DevStack {
    /// Starts every stand-in and writes `vcap-services.json` (mode 0600) into the data
    /// directory.
    pub async fn start(config: DevConfig) -> Result<Self, DevError> {
        let data_dir = absolute(&config.data_dir);
        files::ensure_private_dir(&data_dir)?;
        let ca = DevCa::load_or_create(&data_dir)?;
        let credstore = LocalCredStore::open(&CredStoreConfig {
            dir: data_dir.join("credstore"),
            page_size: config.credstore_page_size,
        })?;

        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let addr = SocketAddr::new(config.host, config.credstore_port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| DevError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| DevError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let host = host_name(config.host);
        let tls = ca.server_config(&[host.as_str(), "localhost", "127.0.0.1"])?;
        let credstore_url = format!(
            "https://{}/api/v1/credentials",
            authority(&host, local.port())
        );
        tasks.spawn(tls::serve_tls(
            listener,
            credstore.router(),
            tls,
            wait(stopped.clone()),
        ));

        let vcap = serde_json::json!({
            "credstore": [service_entry(
                "credstore",
                CREDSTORE_INSTANCE,
                "standard",
                &["credstore", "securestore", "keystore", "credentials"],
                credstore.basic_binding(&credstore_url),
            )]
        });
        let stack = Self {
            data_dir,
            ca,
            credstore,
            credstore_url,
            vcap,
            stop,
            tasks,
        };
        let text =
            serde_json::to_string_pretty(&stack.vcap).map_err(|e| DevError::Tls(e.to_string()))?;
        files::write_private(&stack.vcap_path(), text.as_bytes())?;
        Ok(stack)
    }

    /// The local Credential Store's base URL (`https://…/api/v1/credentials`).
    pub fn credstore_url(&self) -> &str {
        &self.credstore_url
    }

    /// The generated `VCAP_SERVICES` (holds secrets: never print or log it whole).
    pub fn vcap_services(&self) -> &serde_json::Value {
        &self.vcap
    }

    /// Where the generated `VCAP_SERVICES` was written (mode 0600).
    pub fn vcap_path(&self) -> PathBuf {
        self.data_dir.join("vcap-services.json")
    }

    /// The dev CA certificate file clients must trust.
    pub fn ca_path(&self) -> PathBuf {
        self.data_dir.join("ca.pem")
    }

    /// The dev CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The data directory (absolute).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The local Credential Store (keys and routes).
    pub fn credstore(&self) -> &LocalCredStore {
        &self.credstore
    }

    /// A `VCAP_SERVICES` whose `credstore` binding authenticates with mTLS: a client
    /// certificate issued by the dev CA for `days` days.
    pub fn mtls_vcap_services(&self, days: i64) -> Result<serde_json::Value, DevError> {
        let (cert, key) = self.ca.issue_client("bridge-dev-credstore-client", days)?;
        Ok(serde_json::json!({
            "credstore": [service_entry(
                "credstore",
                CREDSTORE_INSTANCE,
                "standard",
                &["credstore", "securestore", "keystore", "credentials"],
                self.credstore.mtls_binding(&self.credstore_url, &cert, &key),
            )]
        }))
    }

    /// Stops every stand-in and waits for them to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn wait(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

fn host_name(ip: IpAddr) -> String {
    if ip.is_loopback() {
        "127.0.0.1".to_owned()
    } else {
        ip.to_string()
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// One `VCAP_SERVICES` entry in Cloud Foundry's shape (spec btp.md §2.1).
pub fn service_entry(
    label: &str,
    name: &str,
    plan: &str,
    tags: &[&str],
    credentials: serde_json::Value,
) -> serde_json::Value {
    let guid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes());
    serde_json::json!({
        "label": label,
        "provider": null,
        "plan": plan,
        "name": name,
        "tags": tags,
        "instance_guid": guid.to_string(),
        "instance_name": name,
        "binding_guid": uuid::Uuid::new_v4().to_string(),
        "binding_name": null,
        "credentials": credentials,
        "syslog_drain_url": null,
        "volume_mounts": [],
    })
}
