//! Helpers: [`Stack`] starts a dev stack on ephemeral ports in a fresh temporary directory and
//! hands out clients that trust its CA; every secret it creates is registered for the scan.
//! The XSUAA helpers speak raw HTTP (form bodies, Basic headers, redirects not followed) and
//! register every token, code and password they see as a secret too.

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

    /// Starts with a configuration `tweak` applied on top of the ephemeral defaults.
    pub async fn start_with(dir: tempfile::TempDir, tweak: impl FnOnce(&mut DevConfig)) -> Self {
        testkit::logs::init();
        let mut config = DevConfig::new(dir.path()).ephemeral();
        tweak(&mut config);
        let dev = DevStack::start(config).await.unwrap();
        register_stack_secrets(&dev);
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
    register_stack_secrets(&dev);
    dev
}

/// Registers the binding's secrets, the dev users' passwords and the XSUAA admin secret.
pub fn register_stack_secrets(dev: &DevStack) {
    register_secrets(dev.vcap_services());
    for user in dev.dev_users() {
        testkit::logs::secret(user.password.expose());
    }
    let admin = std::fs::read_to_string(dev.xsuaa().admin_secret_path()).unwrap();
    testkit::logs::secret(admin.trim());
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

// ------------------------------------------------------------------------------------------
// XSUAA helpers

/// How a token request authenticates the client.
pub enum Auth<'a> {
    /// No `Authorization` header (form fields or mTLS, if any, are in the body).
    None,
    /// `Authorization: Basic base64(id:secret)`.
    Basic(&'a str, &'a str),
    /// URL-encoded id and secret, then Basic, plus `X-CF-ENCODED-CREDENTIALS: true`.
    BasicEncoded(&'a str, &'a str),
}

/// A response as status, headers and JSON body (`Null` if the body is not JSON).
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub json: serde_json::Value,
    pub text: String,
}

impl Answer {
    pub async fn of(resp: reqwest::Response) -> Self {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        for field in ["access_token", "refresh_token", "id_token"] {
            if let Some(t) = json[field].as_str() {
                testkit::logs::secret(t);
            }
        }
        Self {
            status,
            headers,
            json,
            text,
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub fn access_token(&self) -> String {
        self.json["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {} {}", self.status, self.text))
            .to_owned()
    }
}

/// `application/x-www-form-urlencoded` text of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Java `URLEncoder`-style encoding (what `X-CF-ENCODED-CREDENTIALS` expects).
pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The decoded header and payload of a compact JWS.
pub fn jwt_parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let mut next = || {
        let part = parts.next().unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let header = next();
    let payload = next();
    (header, payload)
}

/// Verifies an RS256 token against the key of a `/token_keys` document its `kid` names, the
/// way a client must: `n` may carry a leading zero byte, which aws-lc-rs wants stripped.
pub fn verify_rs256(token: &str, jwks: &serde_json::Value) -> Result<(), String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, _) = jwt_parts(token);
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let key = jwks["keys"]
        .as_array()
        .ok_or("no keys")?
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or_else(|| format!("kid {kid} is not published"))?;
    let n = b64
        .decode(key["n"].as_str().ok_or("no n")?)
        .map_err(|e| e.to_string())?;
    let e = b64
        .decode(key["e"].as_str().ok_or("no e")?)
        .map_err(|e| e.to_string())?;
    let strip = |b: &[u8]| {
        b.iter()
            .skip_while(|x| **x == 0)
            .copied()
            .collect::<Vec<u8>>()
    };
    let (input, signature) = token.rsplit_once('.').ok_or("not a JWS")?;
    let signature = b64.decode(signature).map_err(|e| e.to_string())?;
    aws_lc_rs::signature::RsaPublicKeyComponents {
        n: strip(&n),
        e: strip(&e),
    }
    .verify(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        input.as_bytes(),
        &signature,
    )
    .map_err(|_| "bad signature".to_owned())
}

impl Stack {
    /// The `credentials` of the generated `xsuaa` binding.
    pub fn uaa(&self) -> serde_json::Value {
        self.dev.vcap_services()["xsuaa"][0]["credentials"].clone()
    }

    pub fn uaa_url(&self) -> String {
        self.uaa()["url"].as_str().unwrap().to_owned()
    }

    pub fn client_id(&self) -> String {
        self.uaa()["clientid"].as_str().unwrap().to_owned()
    }

    pub fn client_secret(&self) -> String {
        self.uaa()["clientsecret"].as_str().unwrap().to_owned()
    }

    /// A raw HTTPS client trusting the dev CA that does not follow redirects.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.dev.ca_pem().as_bytes()).unwrap(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// `POST /oauth/token` with a form body.
    pub async fn token_with(
        &self,
        http: &reqwest::Client,
        auth: Auth<'_>,
        pairs: &[(&str, &str)],
    ) -> Answer {
        let mut req = http
            .post(format!("{}/oauth/token", self.uaa_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form(pairs));
        match auth {
            Auth::None => {}
            Auth::Basic(id, secret) => req = req.basic_auth(id, Some(secret)),
            Auth::BasicEncoded(id, secret) => {
                req = req
                    .basic_auth(url_encode(id), Some(url_encode(secret)))
                    .header("X-CF-ENCODED-CREDENTIALS", "true");
            }
        }
        Answer::of(req.send().await.unwrap()).await
    }

    pub async fn token(&self, auth: Auth<'_>, pairs: &[(&str, &str)]) -> Answer {
        self.token_with(&self.browser(), auth, pairs).await
    }

    /// A client-credentials token of the app's client (form fields).
    pub async fn client_token(&self) -> String {
        let (id, secret) = (self.client_id(), self.client_secret());
        let a = self
            .token(
                Auth::None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.access_token()
    }

    pub fn password_of(&self, username: &str) -> String {
        self.dev
            .dev_users()
            .into_iter()
            .find(|u| u.username == username)
            .unwrap()
            .password
            .expose()
            .to_owned()
    }

    /// Signs in at `/login.do` for the app's client; returns the code from the redirect.
    pub async fn sign_in(&self, username: &str, password: &str, redirect_uri: &str) -> String {
        let client_id = self.client_id();
        let resp = self
            .browser()
            .post(format!("{}/login.do", self.uaa_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", redirect_uri),
                ("state", "s1"),
                ("username", username),
                ("password", password),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let url = url::Url::parse(&location).unwrap();
        let code = url
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        testkit::logs::secret(&code);
        code
    }

    /// The full authorization-code flow for `username`; returns the token response.
    pub async fn user_tokens(&self, username: &str) -> Answer {
        let redirect = "http://localhost:5000/login/callback";
        let code = self
            .sign_in(username, &self.password_of(username), redirect)
            .await;
        let (id, secret) = (self.client_id(), self.client_secret());
        let a = self
            .token(
                Auth::Basic(&id, &secret),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                ],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a
    }

    pub async fn token_keys(&self) -> serde_json::Value {
        self.browser()
            .get(format!("{}/token_keys", self.uaa_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
