//! Local stand-ins for the services btp-aws-bridge uses, so the whole architecture runs on a
//! laptop (`bridge dev`) and in tests, with the same client code paths as production.
//!
//! - [`alerts`]: the SAP Alert Notification service's producer API and OAuth token endpoint.
//! - [`aws_identity`]: the dev AWS account (IAM user and its keys, the role, policies from
//!   `deploy/aws/iam/`) and the registry of role sessions, shared by the local AWS services.
//! - [`credstore`]: the SAP Credential Store REST API with JWE payloads, data sealed at rest.
//! - [`sigv4`]: server-side AWS Signature V4 verification.
//! - [`sts`]: the local AWS STS (`AssumeRole`, `GetCallerIdentity`, Query protocol).
//! - [`s3`]: the local S3 (s3s with file-system storage), authorized by the dev account's IAM
//!   policies, reachable path-style on `127.0.0.1` and through a generated `privatelink`
//!   binding (virtual-hosted, `*.vpce-dev.s3.<region>.localhost`).
//! - [`lambda`]: the local AWS Lambda (Invoke API, a Runtime API per execution environment
//!   running the real `bootstrap`, asynchronous retries and the on-failure destination).
//! - [`scheduler`]: the local EventBridge Scheduler (its API and a scheduler that fires).
//! - [`secrets`]: the local AWS Secrets Manager.
//! - [`scheduled`]: the AWS → BTP side wired together for the app ([`DevStack::start_scheduled`]).
//! - [`tls`]: the local CA (created in the data directory) and the TLS accept loop that
//!   exposes client certificates for mTLS.
//! - [`xsuaa`]: the XSUAA authorization server (client credentials, authorization code with a
//!   login page, refresh tokens, JWKS with key rotation) for the app's `xs-security.json`.
//! - [`vault`]: encryption at rest for stored secrets.
//! - [`files`]: private (0600), atomically replaced files in the data directory.
//! - [`layout`]: where everything lives in the data directory (also for `bridge rotate-keys`).
//! - [`control`]: stopping, hanging and restarting single stand-ins (fault tests).
//! - [`error`]: start-up errors.
//!
//! [`DevStack::start`] starts everything on loopback and generates the `VCAP_SERVICES` that
//! points the app at it. The app never calls into this crate: it only reads that binding.

pub mod alerts;
pub mod aws_identity;
pub mod control;
pub mod credstore;
pub mod error;
pub mod files;
pub mod lambda;
pub mod layout;
pub mod s3;
pub mod scheduled;
pub mod scheduler;
pub mod secrets;
pub mod sigv4;
pub mod sts;
pub mod tls;
pub mod vault;
pub mod xsuaa;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use control::Service;
pub use error::DevError;

use crate::aws_identity::{AwsIdentity, AwsIdentityConfig, Clock};
use crate::credstore::{CredStoreConfig, LocalCredStore};
use crate::sts::LocalSts;
use crate::tls::DevCa;
use crate::xsuaa::{DevUser, LocalXsuaa, XSUAA_INSTANCE, XsuaaConfig};

/// The instance name of the generated `credstore` binding.
pub const CREDSTORE_INSTANCE: &str = "bridge-credstore";

/// The instance name of the generated `user-provided` binding with the AWS settings.
pub const AWS_CONFIG_INSTANCE: &str = "aws-config";

/// The instance name of the generated `privatelink` binding (the local S3's Private Link).
pub const PRIVATE_LINK_INSTANCE: &str = "bridge-s3-pl";

/// The instance name of the generated `alert-notification` binding (the local Alert
/// Notification service).
pub const ALERTS_INSTANCE: &str = "bridge-alerts";

/// The Credential Store namespace that holds the IAM user's long-term keys.
pub const AWS_CREDSTORE_NAMESPACE: &str = "aws";

/// The name of the IAM user's keys in the Credential Store (username = access key id, value =
/// secret access key, metadata = `{"accountId": …}`).
pub const AWS_CREDSTORE_NAME: &str = "aws-iam-user";

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
    /// The local XSUAA's port (0: any free port).
    pub xsuaa_port: u16,
    /// The `xs-security.json` the local XSUAA serves; `None`: the copy of
    /// `deploy/btp/xs-security.json` built into the binary.
    pub xs_security_path: Option<PathBuf>,
    /// The local XSUAA's users: a JSON array of `{"username", "password", "email",
    /// "given_name", "family_name", "role_collections": […], "attributes": {…}}`. `None`: the
    /// default users `alice` (Bridge Editor) and `bob` (Bridge Viewer), created with random
    /// passwords on first start (see [`DevStack::dev_users`]).
    pub users_path: Option<PathBuf>,
    /// How long the local XSUAA keeps publishing a signing key after a rotation.
    pub xsuaa_key_grace: Duration,
    /// The local STS's port (0: any free port).
    pub sts_port: u16,
    /// The local S3's port (0: any free port).
    pub s3_port: u16,
    /// The AWS region the local AWS services answer for.
    pub aws_region: String,
    /// The documents bucket (the `${BucketName}` of the IAM policies).
    pub aws_bucket: String,
    /// The clock of the local AWS services (session expiry, signature times); `None`: the
    /// system clock. Tests pass an [`aws_identity::ManualClock`].
    pub aws_clock: Option<Arc<dyn Clock>>,
    /// Test knob: STS sessions last this long whatever `DurationSeconds` asks for (see
    /// [`aws_identity::AwsIdentityConfig::session_lifetime`]). `None` (the default): as asked.
    pub aws_session_lifetime: Option<Duration>,
    /// The connection limits of every stand-in (default [`tls::server_limits`]); tests of slow
    /// clients shorten them.
    pub limits: httpserve::Limits,
    /// The local Alert Notification service's port (0: any free port).
    pub alerts_port: u16,
}

impl DevConfig {
    /// Defaults: `127.0.0.1`, Credential Store on port 4011 with 50 credentials per page,
    /// XSUAA on port 4012 with the built-in descriptor, default users and a one-hour key
    /// grace period, STS on port 4013 and S3 on port 4014 for `eu-central-1` and the bucket
    /// `bridge-documents`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            credstore_port: 4011,
            credstore_page_size: 50,
            xsuaa_port: 4012,
            xs_security_path: None,
            users_path: None,
            xsuaa_key_grace: xsuaa::DEFAULT_KEY_GRACE,
            sts_port: 4013,
            s3_port: 4014,
            aws_region: aws_identity::DEFAULT_REGION.to_owned(),
            aws_bucket: aws_identity::DEFAULT_BUCKET.to_owned(),
            aws_clock: None,
            aws_session_lifetime: None,
            limits: tls::server_limits(),
            alerts_port: 4018,
        }
    }

    /// Every service on an ephemeral port (for tests).
    pub fn ephemeral(mut self) -> Self {
        self.credstore_port = 0;
        self.xsuaa_port = 0;
        self.sts_port = 0;
        self.s3_port = 0;
        self.alerts_port = 0;
        self
    }
}

/// The running dev stack.
pub struct DevStack {
    data_dir: PathBuf,
    ca: DevCa,
    credstore: LocalCredStore,
    credstore_url: String,
    xsuaa: LocalXsuaa,
    aws: AwsIdentity,
    sts_url: String,
    s3: s3::LocalS3,
    s3_url: String,
    private_link_host: String,
    vcap: serde_json::Value,
    services: tokio::sync::Mutex<control::Services>,
    host: IpAddr,
    limits: httpserve::Limits,
    alerts: alerts::LocalAlerts,
    alerts_url: String,
}

impl DevStack {
    /// Starts every stand-in and writes `vcap-services.json` (mode 0600) into the data
    /// directory.
    pub async fn start(config: DevConfig) -> Result<Self, DevError> {
        let data_dir = absolute(&config.data_dir);
        files::ensure_private_dir(&data_dir)?;
        let ca = DevCa::load_or_create(&data_dir)?;
        let credstore = LocalCredStore::open(&CredStoreConfig {
            dir: layout::credstore_dir(&data_dir),
            page_size: config.credstore_page_size,
        })?;

        let mut services = control::Services::default();

        let (credstore_listener, credstore_port) = bind(config.host, config.credstore_port).await?;
        let (xsuaa_listener, xsuaa_port) = bind(config.host, config.xsuaa_port).await?;
        let (sts_listener, sts_port) = bind(config.host, config.sts_port).await?;
        let (s3_listener, s3_port) = bind(config.host, config.s3_port).await?;
        let host = host_name(config.host);
        let tls = ca.server_config(&[host.as_str(), "localhost", "127.0.0.1"])?;

        let credstore_url = format!(
            "https://{}/api/v1/credentials",
            authority(&host, credstore_port)
        );
        let xsuaa = LocalXsuaa::open(&XsuaaConfig {
            dir: layout::xsuaa_dir(&data_dir),
            url: format!("https://{}", authority(&host, xsuaa_port)),
            descriptor_path: config.xs_security_path.as_deref().map(absolute),
            users_path: config.users_path.as_deref().map(absolute),
            key_grace: config.xsuaa_key_grace,
        })?;

        let limits = config.limits;
        let router = credstore.router();
        let server_tls = tls.clone();
        services.start(Service::CredStore, credstore_listener, move |l, stop| {
            Box::pin(tls::serve_tls(
                l,
                router.clone(),
                server_tls.clone(),
                limits,
                stop,
            ))
        });
        let aws = AwsIdentity::open(&AwsIdentityConfig {
            dir: layout::aws_dir(&data_dir),
            region: config.aws_region.clone(),
            bucket: config.aws_bucket.clone(),
            clock: config
                .aws_clock
                .clone()
                .unwrap_or_else(|| Arc::new(aws_identity::SystemClock)),
            session_lifetime: config.aws_session_lifetime,
        })?;
        let user = aws.user();
        credstore.put_password(
            AWS_CREDSTORE_NAMESPACE,
            AWS_CREDSTORE_NAME,
            &user.access_key_id,
            &user.secret_access_key,
            Some(serde_json::json!({ "accountId": aws.account_id() }).to_string()),
        )?;
        let sts_url = format!("https://{}", authority(&host, sts_port));

        let router = xsuaa.router();
        let server_tls = tls.clone();
        services.start(Service::Xsuaa, xsuaa_listener, move |l, stop| {
            Box::pin(tls::serve_tls(
                l,
                router.clone(),
                server_tls.clone(),
                limits,
                stop,
            ))
        });
        let router = LocalSts::new(aws.clone()).router();
        services.start(Service::Sts, sts_listener, move |l, stop| {
            Box::pin(tls::serve_tls(l, router.clone(), tls.clone(), limits, stop))
        });

        let pl_host = s3::private_link_host(aws.region());
        let s3 = s3::LocalS3::open(
            &s3::LocalS3Config {
                dir: layout::s3_dir(&data_dir),
                virtual_host_domains: vec![format!("bucket.{pl_host}"), pl_host.clone()],
            },
            aws.clone(),
        )?;
        let mut s3_names = vec![host.clone(), "localhost".to_owned(), "127.0.0.1".to_owned()];
        s3_names.extend(s3::private_link_cert_names(aws.region()));
        let s3_name_refs: Vec<&str> = s3_names.iter().map(String::as_str).collect();
        let s3_tls = ca.server_config(&s3_name_refs)?;
        let local_s3 = s3.clone();
        services.start(Service::S3, s3_listener, move |l, stop| {
            Box::pin(s3::serve(l, local_s3.clone(), s3_tls.clone(), limits, stop))
        });
        let s3_url = format!("https://{}", authority(&host, s3_port));
        let private_link_host = format!("{pl_host}:{s3_port}");

        let alerts = alerts::LocalAlerts::new();
        let (alerts_listener, alerts_port) = bind(config.host, config.alerts_port).await?;
        let alerts_url = format!("https://{}", authority(&host, alerts_port));
        let router = alerts.router();
        let alerts_tls = ca.server_config(&[host.as_str(), "localhost", "127.0.0.1"])?;
        services.start(Service::Alerts, alerts_listener, move |l, stop| {
            Box::pin(tls::serve_tls(
                l,
                router.clone(),
                alerts_tls.clone(),
                limits,
                stop,
            ))
        });

        let vcap = serde_json::json!({
            "credstore": [service_entry(
                "credstore",
                CREDSTORE_INSTANCE,
                "standard",
                &["credstore", "securestore", "keystore", "credentials"],
                credstore.basic_binding(&credstore_url),
            )],
            "xsuaa": [service_entry(
                "xsuaa",
                XSUAA_INSTANCE,
                "application",
                &["xsuaa"],
                xsuaa.binding(),
            )],
            "user-provided": [aws_config_entry(&aws, &sts_url)],
            "privatelink": [service_entry(
                "privatelink",
                PRIVATE_LINK_INSTANCE,
                "standard",
                &["privatelink"],
                serde_json::json!({ "hostname": format!("*.{private_link_host}") }),
            )],
            "alert-notification": [service_entry(
                "alert-notification",
                ALERTS_INSTANCE,
                "standard",
                &["alert-notification"],
                alerts.credentials(&alerts_url),
            )],
        });
        let stack = Self {
            data_dir,
            ca,
            credstore,
            credstore_url,
            xsuaa,
            aws,
            sts_url,
            s3,
            s3_url,
            private_link_host,
            vcap,
            services: tokio::sync::Mutex::new(services),
            host: config.host,
            limits,
            alerts,
            alerts_url,
        };
        let text = serde_json::to_string_pretty(&stack.vcap).map_err(|e| DevError::Io {
            path: stack.vcap_path(),
            source: std::io::Error::other(e),
        })?;
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
        layout::vcap_services(&self.data_dir)
    }

    /// The dev CA certificate file clients must trust.
    pub fn ca_path(&self) -> PathBuf {
        layout::ca_cert(&self.data_dir)
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

    /// The local XSUAA's origin, e.g. `https://127.0.0.1:4012` (the binding's `url`).
    pub fn xsuaa_url(&self) -> &str {
        self.xsuaa.url()
    }

    /// The local XSUAA (clients, keys, token minting for tests).
    pub fn xsuaa(&self) -> &LocalXsuaa {
        &self.xsuaa
    }

    /// The users that can sign in at the local XSUAA, with their passwords and role
    /// collections (for `bridge dev` to show one; never log them).
    pub fn dev_users(&self) -> Vec<DevUser> {
        self.xsuaa.dev_users()
    }

    /// Rotates the local XSUAA's signing key (as `POST /admin/rotate-keys` does) and returns
    /// the new `kid`; the previous key stays published for the grace period.
    pub fn rotate_keys(&self) -> Result<String, DevError> {
        self.xsuaa.rotate_keys()
    }

    /// A `VCAP_SERVICES` whose `xsuaa` binding has `credential-type` `x509`: a client
    /// certificate and key issued by the dev CA for `days` days, accepted by the local XSUAA
    /// at `certurl` (the same origin) with form `client_id` only.
    pub fn xsuaa_x509_vcap_services(&self, days: i64) -> Result<serde_json::Value, DevError> {
        let (cert, key) = self.ca.issue_client(self.xsuaa.client_id(), days)?;
        Ok(serde_json::json!({
            "xsuaa": [service_entry(
                "xsuaa",
                XSUAA_INSTANCE,
                "application",
                &["xsuaa"],
                self.xsuaa.x509_binding(&cert, &key)?,
            )]
        }))
    }

    /// The local STS's origin, e.g. `https://127.0.0.1:4013` (the `aws-config` binding's
    /// `stsEndpoint`).
    pub fn sts_url(&self) -> &str {
        &self.sts_url
    }

    /// The local S3's origin for path-style clients (the aws CLI with `--endpoint-url`),
    /// e.g. `https://127.0.0.1:4014`.
    pub fn s3_url(&self) -> &str {
        &self.s3_url
    }

    /// The Private Link host name of the local S3 with its port, without the wildcard:
    /// `vpce-dev.s3.<region>.localhost:<port>` (the `privatelink` binding's `hostname` is
    /// `*.` this). Names under it do not resolve through DNS: clients map them to the S3's
    /// address (awslink's `LinkOptions::resolve`).
    pub fn private_link_host(&self) -> &str {
        &self.private_link_host
    }

    /// The local Alert Notification service (the events it received).
    pub fn alerts(&self) -> &alerts::LocalAlerts {
        &self.alerts
    }

    /// The local Alert Notification service's origin.
    pub fn alerts_url(&self) -> &str {
        &self.alerts_url
    }

    /// The local S3 (its storage directory).
    pub fn s3(&self) -> &s3::LocalS3 {
        &self.s3
    }

    /// The dev AWS account: user, keys, role and the sessions the local STS issued.
    pub fn aws_identity(&self) -> &AwsIdentity {
        &self.aws
    }

    /// Stops one stand-in (its port is closed: clients get "connection refused"), for fault
    /// tests. Stopping a stopped service does nothing.
    pub async fn stop_service(&self, service: Service) {
        self.services.lock().await.stop(service).await;
    }

    /// Makes one stand-in hang: its port accepts connections but never answers (clients run
    /// into their timeouts), for fault tests. [`DevStack::start_service`] ends it.
    pub async fn hang_service(&self, service: Service) -> Result<(), DevError> {
        self.services.lock().await.hang(service).await
    }

    /// Starts a stopped (or hanging) stand-in again on the same port, with the same state.
    pub async fn start_service(&self, service: Service) -> Result<(), DevError> {
        self.services.lock().await.restart(service).await
    }

    /// Stops every stand-in and waits for them to finish.
    pub async fn stop(self) {
        self.services.into_inner().stop_all().await;
    }
}

async fn bind(host: IpAddr, port: u16) -> Result<(TcpListener, u16), DevError> {
    let addr = SocketAddr::new(host, port);
    let bind_err = |source| DevError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
    let port = listener.local_addr().map_err(bind_err)?.port();
    Ok((listener, port))
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

/// The `aws-config` user-provided service (our own convention; `docs/AWS.md`): where the app
/// finds the role, the bucket, the STS endpoint and the Credential Store entry that holds the
/// IAM user's keys. A user-provided instance has no `plan` or `provider`.
fn aws_config_entry(aws: &AwsIdentity, sts_url: &str) -> serde_json::Value {
    let mut entry = service_entry(
        "user-provided",
        AWS_CONFIG_INSTANCE,
        "",
        &["aws"],
        serde_json::json!({
            "region": aws.region(),
            "roleArn": aws.role().arn,
            "roleSessionName": aws_identity::ROLE_SESSION_NAME,
            "externalId": aws.external_id().expose(),
            "bucket": aws.bucket(),
            "stsEndpoint": sts_url,
            "credstoreNamespace": AWS_CREDSTORE_NAMESPACE,
            "credstoreName": AWS_CREDSTORE_NAME,
        }),
    );
    if let Some(o) = entry.as_object_mut() {
        o.remove("plan");
        o.remove("provider");
        o.insert("syslog_drain_url".to_owned(), "".into());
    }
    entry
}

/// One `VCAP_SERVICES` entry in Cloud Foundry's shape (docs/protocols.md §VCAP shapes).
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
