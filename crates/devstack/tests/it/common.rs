//! Helpers: [`Stack`] starts a dev stack on ephemeral ports in a fresh temporary directory and
//! hands out clients that trust its CA; every secret it creates is registered for the scan.

use std::path::Path;

use cfenv::{CredStoreBinding, Vcap};
use credstore::{Client, ClientOptions};
use devstack::{DevConfig, DevStack};

pub struct Stack {
    pub dev: DevStack,
    pub dir: tempfile::TempDir,
}

impl Stack {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> Self {
        testkit::logs::init();
        let dev = start_dev(dir.path(), 50).await;
        Self { dev, dir }
    }

    pub fn binding(&self) -> CredStoreBinding {
        binding_of(&self.dev.vcap_services().clone())
    }

    pub fn client(&self) -> Client {
        client_for(&self.binding(), self.dev.ca_pem())
    }

    pub fn client_for(&self, binding: &CredStoreBinding) -> Client {
        client_for(binding, self.dev.ca_pem())
    }

    /// A raw HTTPS client trusting the dev CA, for protocol-level checks.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.dev.ca_pem().as_bytes()).unwrap(),
            )
            .build()
            .unwrap()
    }
}

pub async fn start_dev(dir: &Path, page_size: usize) -> DevStack {
    let mut config = DevConfig::new(dir).ephemeral();
    config.credstore_page_size = page_size;
    let dev = DevStack::start(config).await.unwrap();
    register_secrets(dev.vcap_services());
    dev
}

/// Records every string in a binding's `credentials` as a secret for the log scan.
pub fn register_secrets(vcap: &serde_json::Value) {
    fn walk(v: &serde_json::Value, in_creds: bool) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let secretish = matches!(
                        k.as_str(),
                        "password" | "client_private_key" | "key" | "private_key" | "clientsecret"
                    );
                    if in_creds
                        && secretish
                        && let Some(s) = v.as_str()
                    {
                        testkit::logs::secret(s);
                    }
                    walk(v, in_creds || k == "credentials");
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, in_creds)),
            _ => {}
        }
    }
    walk(vcap, false);
}

pub fn binding_of(vcap: &serde_json::Value) -> CredStoreBinding {
    Vcap::from_json(&vcap.to_string(), "VCAP_SERVICES")
        .unwrap()
        .credstore(None)
        .unwrap()
}

pub fn client_for(binding: &CredStoreBinding, ca_pem: &str) -> Client {
    Client::from_binding(
        binding,
        &ClientOptions {
            extra_roots_pem: vec![ca_pem.as_bytes().to_vec()],
            ..ClientOptions::default()
        },
    )
    .unwrap()
}
