//! Shared set-up: a dev stack (local XSUAA, Credential Store, STS, S3) in a temporary directory
//! and the app built from its generated `VCAP_SERVICES` (as `bridge serve` builds it), served on
//! `127.0.0.1:0`.

use bridge::app::{AppOptions, AppState, build_router, serve_with, server_limits};
use cfenv::Vcap;
use devstack::{DevConfig, DevStack};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct Setup {
    pub dev: DevStack,
    pub app: String,
    pub xsuaa: cfenv::XsuaaBinding,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Setup {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut DevConfig)) -> Self {
        Self::start_opts(configure, |_| {}).await
    }

    /// Starts with the dev stack's configuration and the app's options adjusted.
    pub async fn start_opts(
        configure: impl FnOnce(&mut DevConfig),
        adjust: impl FnOnce(&mut AppOptions),
    ) -> Self {
        Self::start_full(configure, adjust, server_limits()).await
    }

    /// Starts the app under other connection limits.
    pub async fn start_limits(limits: httpserve::Limits) -> Self {
        Self::start_full(|_| {}, |_| {}, limits).await
    }

    async fn start_full(
        configure: impl FnOnce(&mut DevConfig),
        adjust: impl FnOnce(&mut AppOptions),
        limits: httpserve::Limits,
    ) -> Self {
        testkit::logs::init();
        let dir = tempfile::tempdir().unwrap();
        let mut config = DevConfig::new(dir.path()).ephemeral();
        configure(&mut config);
        let dev = DevStack::start(config).await.unwrap();
        register_secrets(&dev);
        let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
        let xsuaa = vcap.xsuaa(None).unwrap();
        // Forced JWKS refetches (unknown kid) at most every 100 ms, so key rotation is
        // testable without waiting out the production interval (30 s).
        let mut options = AppOptions {
            jwks: xsuaa::jwks::JwksOptions {
                extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
                min_refetch_interval: std::time::Duration::from_millis(100),
                ..xsuaa::jwks::JwksOptions::default()
            },
            // The test's own database: the default data directory is shared by every process
            // on the machine (an earlier checkout's migrations in it fail this one's).
            data_dir: Some(dir.path().join("app")),
            ..AppOptions::default()
        };
        adjust(&mut options);
        let state = AppState::from_vcap(&vcap, options).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with(
            listener,
            build_router(state),
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            dev,
            app,
            xsuaa,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// A reqwest client that trusts the dev CA and does not follow redirects.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.dev.ca_pem().as_bytes()).unwrap(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// A client-credentials token for `client_id` / `secret` from the local XSUAA.
    pub async fn cc_token(&self, client_id: &str, secret: &str) -> String {
        let r = self
            .http()
            .post(format!("{}/oauth/token", self.dev.xsuaa_url()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        testkit::logs::secret(body["access_token"].as_str().unwrap())
    }

    /// The app client's own token (authorities: JobRunner).
    pub async fn app_token(&self) -> String {
        let secret = self
            .xsuaa
            .clientsecret
            .as_ref()
            .unwrap()
            .expose()
            .to_owned();
        self.cc_token(&self.xsuaa.clientid, &secret).await
    }

    /// A token of a freshly registered client with the given authorities.
    pub async fn client_token(&self, client_id: &str, authorities: &[&str]) -> String {
        let secret = self.dev.xsuaa().register_client(
            devstack::xsuaa::ClientSpec::new(client_id).with_authorities(authorities),
        );
        testkit::logs::secret(secret.expose());
        self.cc_token(client_id, secret.expose()).await
    }

    /// Stops the app (not the dev stack); returns how long its server took to return.
    pub async fn stop_app(&mut self) -> std::time::Duration {
        let started = std::time::Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        started.elapsed()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.dev.stop().await;
    }
}

fn register_secrets(dev: &DevStack) {
    let v = dev.vcap_services();
    for (label, field) in [("credstore", "password"), ("xsuaa", "clientsecret")] {
        if let Some(s) = v[label][0]["credentials"][field].as_str() {
            testkit::logs::secret(s);
        }
    }
    if let Some(s) = v["credstore"][0]["credentials"]["encryption"]["client_private_key"].as_str() {
        testkit::logs::secret(s);
    }
    testkit::logs::secret(dev.aws_identity().user().secret_access_key.expose());
    testkit::logs::secret(dev.aws_identity().external_id().expose());
    for user in dev.dev_users() {
        testkit::logs::secret(user.password.expose());
    }
}

/// `(name, value)` of every `<input type="hidden">` in an HTML page, unescaped.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let start = tag.find(&key)? + key.len();
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            (attr(tag, "type")? == "hidden")
                .then(|| Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default())))?
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
