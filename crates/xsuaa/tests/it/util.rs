//! Shared test helpers: generated signing keys, a token minter, an in-memory JWKS fetcher, a
//! binding builder, a fake XSUAA token endpoint on 127.0.0.1:0, and an HTTPS listener for axum.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaEncoding};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cfenv::{Secret, XsuaaBinding, XsuaaCredentialType};
use serde_json::{Map, Value, json};
use xsuaa::error::ValidationError;
use xsuaa::jwks::{EcCurve, Jwk, JwkSet, JwksCache, JwksFetcher, JwksOptions};
use xsuaa::validate::{Validator, ValidatorConfig};

/// 2025-01-01T00:00:00Z, and the validator's clock 123 ms later.
pub const NOW_S: i64 = 1_735_689_600;
pub const NOW_MS: i64 = NOW_S * 1000 + 123;
pub const CLIENTID: &str = "sb-myapp!t12345";
pub const XSAPPNAME: &str = "myapp!t12345";
pub const UAADOMAIN: &str = "authentication.eu10.hana.ondemand.com";
pub const ZID: &str = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff";

/// A client secret in XSUAA's shape, with the characters that break naive Basic auth.
pub fn client_secret() -> String {
    testkit::logs::init();
    testkit::logs::secret("5f1c0b9e-7d3a-4c2b-9e8f-0a1b2c3d4e5f$Zm9v+YmFy/c2Vj=cmV0==")
}

pub struct Keys {
    /// `rsa-1` in the JWKS (with `alg: RS256` and a leading-zero `n`).
    pub rsa: RsaKeyPair,
    /// `rsa-any` in the JWKS (no `alg`): RS384/512 and PS*.
    pub rsa_any: RsaKeyPair,
    /// Rotated out: never in the JWKS.
    pub rsa_old: RsaKeyPair,
    pub ec256: EcdsaKeyPair,
    pub ec384: EcdsaKeyPair,
    pub ec521: EcdsaKeyPair,
}

pub fn keys() -> &'static Keys {
    static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
        rsa: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        rsa_any: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        rsa_old: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        ec256: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        ec384: EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap(),
        ec521: EcdsaKeyPair::generate(&signature::ECDSA_P521_SHA512_FIXED_SIGNING).unwrap(),
    });
    &KEYS
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_jwk_json(kp: &RsaKeyPair, kid: &str, leading_zero: bool) -> Value {
    let public = kp.public_key();
    let mut n = public.modulus().big_endian_without_leading_zero().to_vec();
    if leading_zero {
        n.insert(0, 0);
    }
    json!({
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "e": b64(public.exponent().big_endian_without_leading_zero()),
        "n": b64(n),
    })
}

fn ec_jwk(kp: &EcdsaKeyPair, kid: &str, crv: EcCurve, alg: &str) -> Value {
    let jwk = Jwk::ec_from_point(kid, crv, kp.public_key().as_ref())
        .unwrap()
        .with_alg(alg);
    serde_json::to_value(jwk).unwrap()
}

/// The JWKS document: XSUAA's shape for `rsa-1` (alg, PEM `value`, `n` starting with `AL…`-style
/// zero byte), plus `rsa-any` and one EC key per curve.
pub fn jwks_json() -> Value {
    let k = keys();
    let mut rsa1 = rsa_jwk_json(&k.rsa, "rsa-1", true);
    rsa1["alg"] = "RS256".into();
    rsa1["value"] = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----".into();
    // Like XSUAA's `AL…`: the modulus is sent with a leading zero byte.
    assert_eq!(
        URL_SAFE_NO_PAD.decode(rsa1["n"].as_str().unwrap()).unwrap()[0],
        0
    );
    json!({"keys": [
        rsa1,
        rsa_jwk_json(&k.rsa_any, "rsa-any", false),
        ec_jwk(&k.ec256, "ec-256", EcCurve::P256, "ES256"),
        ec_jwk(&k.ec384, "ec-384", EcCurve::P384, "ES384"),
        ec_jwk(&k.ec521, "ec-521", EcCurve::P521, "ES512"),
    ]})
}

pub fn jwk_set() -> JwkSet {
    JwkSet::from_json(&serde_json::to_vec(&jwks_json()).unwrap()).unwrap()
}

/// How a minted token is signed.
#[derive(Clone)]
pub enum Signer {
    Rsa(&'static RsaKeyPair, &'static dyn RsaEncoding),
    Ec(&'static EcdsaKeyPair),
    Hmac(Vec<u8>),
    Unsigned,
}

impl Signer {
    /// The right key (as published in the JWKS) and encoding for `alg`, with its kid.
    pub fn for_alg(alg: &str) -> (Self, &'static str) {
        let k = keys();
        match alg {
            "RS256" => (Self::Rsa(&k.rsa, &signature::RSA_PKCS1_SHA256), "rsa-1"),
            "RS384" => (
                Self::Rsa(&k.rsa_any, &signature::RSA_PKCS1_SHA384),
                "rsa-any",
            ),
            "RS512" => (
                Self::Rsa(&k.rsa_any, &signature::RSA_PKCS1_SHA512),
                "rsa-any",
            ),
            "PS256" => (Self::Rsa(&k.rsa_any, &signature::RSA_PSS_SHA256), "rsa-any"),
            "PS384" => (Self::Rsa(&k.rsa_any, &signature::RSA_PSS_SHA384), "rsa-any"),
            "PS512" => (Self::Rsa(&k.rsa_any, &signature::RSA_PSS_SHA512), "rsa-any"),
            "ES256" => (Self::Ec(&k.ec256), "ec-256"),
            "ES384" => (Self::Ec(&k.ec384), "ec-384"),
            "ES512" => (Self::Ec(&k.ec521), "ec-521"),
            other => panic!("no test key for {other}"),
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Rsa(kp, encoding) => {
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(*encoding, &rng, input, &mut sig).unwrap();
                sig
            }
            Self::Ec(kp) => kp.sign(&rng, input).unwrap().as_ref().to_vec(),
            Self::Hmac(key) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
                aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec()
            }
            Self::Unsigned => Vec::new(),
        }
    }
}

/// A token under construction: header, claims, signer.
#[derive(Clone)]
pub struct Mint {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signer: Signer,
}

impl Mint {
    /// A client-credentials token of our own client, with the claims of a real XSUAA token
    /// (docs/protocols.md §XSUAA token claims), valid for an hour, signed RS256 with `rsa-1`.
    pub fn cc() -> Self {
        let Value::Object(header) = json!({
            "alg": "RS256",
            "jku": format!("https://acme-dev.{UAADOMAIN}/token_keys"),
            "kid": "rsa-1",
            "typ": "JWT",
        }) else {
            unreachable!()
        };
        let Value::Object(claims) = json!({
            "jti": "1fc92dfb75b443c18d3ee78ae9021fa7",
            "ext_attr": {"enhancer": "XSUAA", "subaccountid": ZID, "zdn": "acme-dev"},
            "sub": CLIENTID,
            "scope": [format!("{XSAPPNAME}.Read"), "uaa.resource"],
            "client_id": CLIENTID,
            "cid": CLIENTID,
            "azp": CLIENTID,
            "grant_type": "client_credentials",
            "rev_sig": "771d501f",
            "iat": NOW_S - 60,
            "exp": NOW_S + 3600,
            "iss": format!("https://acme-dev.{UAADOMAIN}/oauth/token"),
            "zid": ZID,
            "aud": ["uaa", XSAPPNAME, CLIENTID],
        }) else {
            unreachable!()
        };
        Self {
            header,
            claims,
            signer: Signer::for_alg("RS256").0,
        }
    }

    /// Signs with the published key for `alg` and sets `alg` and `kid`.
    pub fn alg(self, alg: &str) -> Self {
        let (signer, kid) = Signer::for_alg(alg);
        self.header("alg", alg).header("kid", kid).signer(signer)
    }

    pub fn signer(mut self, signer: Signer) -> Self {
        self.signer = signer;
        self
    }

    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.into(), value.into());
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    pub fn sign(&self) -> String {
        let input = format!(
            "{}.{}",
            b64(serde_json::to_vec(&self.header).unwrap()),
            b64(serde_json::to_vec(&self.claims).unwrap())
        );
        let sig = self.signer.sign(input.as_bytes());
        format!("{input}.{}", b64(sig))
    }
}

/// An in-memory [`JwksFetcher`]: serves `set`, records each call's zid, can fail or be slow.
pub struct MemoryFetcher {
    pub set: Mutex<JwkSet>,
    pub fail: AtomicBool,
    pub latency: Mutex<Duration>,
    pub calls: Mutex<Vec<Option<String>>>,
}

impl MemoryFetcher {
    pub fn new(set: JwkSet) -> Arc<Self> {
        Arc::new(Self {
            set: Mutex::new(set),
            fail: AtomicBool::new(false),
            latency: Mutex::new(Duration::ZERO),
            calls: Mutex::new(Vec::new()),
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    pub fn set_fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

#[async_trait]
impl JwksFetcher for MemoryFetcher {
    async fn fetch(&self, zid: Option<&str>) -> Result<JwkSet, ValidationError> {
        self.calls.lock().unwrap().push(zid.map(str::to_owned));
        let latency = *self.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(ValidationError::KeysUnavailable("token_keys down".into()));
        }
        Ok(self.set.lock().unwrap().clone())
    }
}

pub fn config() -> ValidatorConfig {
    ValidatorConfig::from_binding(&binding(
        "https://acme-dev.authentication.eu10.hana.ondemand.com",
    ))
}

/// A validator at [`NOW_MS`] over a default [`JwksCache`] over `fetcher`.
pub fn validator(
    config: ValidatorConfig,
    fetcher: Arc<MemoryFetcher>,
) -> (Validator, Arc<JwksCache>) {
    let cache = Arc::new(JwksCache::with_fetcher(fetcher, JwksOptions::default()));
    let validator = Validator::new(config, cache.clone()).with_clock(Arc::new(|| NOW_MS));
    (validator, cache)
}

/// A secret binding whose token endpoint base is `url`.
pub fn binding(url: &str) -> XsuaaBinding {
    XsuaaBinding {
        instance_name: "myapp-uaa".into(),
        clientid: CLIENTID.into(),
        clientsecret: Some(Secret::new(client_secret())),
        credential_type: XsuaaCredentialType::BindingSecret,
        certificate: None,
        key: None,
        certurl: None,
        url: url.parse().unwrap(),
        uaadomain: UAADOMAIN.into(),
        xsappname: XSAPPNAME.into(),
        identityzone: Some("acme-dev".into()),
        zoneid: Some(ZID.into()),
        tenantmode: Some("dedicated".into()),
        verificationkey: None,
    }
}

/// One request the fake token endpoint received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// What the fake token endpoint answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A token response with this `expires_in`, after `latency`.
    Token { expires_in: u64, latency: Duration },
    /// This status and body.
    Status(u16, String),
}

#[derive(Debug)]
pub struct UaaState {
    requests: Mutex<Vec<Recorded>>,
    reply: Mutex<Reply>,
    issued: Mutex<Vec<String>>,
}

/// A fake XSUAA `/oauth/token` on 127.0.0.1:0, in the test's runtime.
pub struct FakeUaa {
    pub url: String,
    state: Arc<UaaState>,
}

impl FakeUaa {
    pub async fn start() -> Self {
        let state = Arc::new(UaaState {
            requests: Mutex::new(Vec::new()),
            reply: Mutex::new(Reply::Token {
                expires_in: 43199,
                latency: Duration::ZERO,
            }),
            issued: Mutex::new(Vec::new()),
        });
        let app = Self::router(&state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    /// The same endpoint over HTTPS, requiring a client certificate signed by (or equal to)
    /// `client_root`. Returns the server's certificate (PEM) to trust too.
    pub async fn start_mtls(
        client_root: rustls::pki_types::CertificateDer<'static>,
    ) -> (Self, Vec<u8>) {
        let state = Arc::new(UaaState {
            requests: Mutex::new(Vec::new()),
            reply: Mutex::new(Reply::Token {
                expires_in: 43199,
                latency: Duration::ZERO,
            }),
            issued: Mutex::new(Vec::new()),
        });
        let (addr, pem) = serve_tls(Self::router(&state), Some(client_root)).await;
        (
            Self {
                url: format!("https://{addr}"),
                state,
            },
            pem,
        )
    }

    fn router(state: &Arc<UaaState>) -> axum::Router {
        axum::Router::new()
            .route("/oauth/token", axum::routing::post(token))
            .with_state(state.clone())
    }

    pub fn reply(&self, reply: Reply) {
        *self.state.reply.lock().unwrap() = reply;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// Every access, refresh and ID token issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.state.issued.lock().unwrap().clone()
    }
}

async fn token(State(state): State<Arc<UaaState>>, headers: HeaderMap, body: String) -> Response {
    let n = {
        let mut requests = state.requests.lock().unwrap();
        requests.push(Recorded {
            headers,
            body: body.clone(),
        });
        requests.len()
    };
    let reply = state.reply.lock().unwrap().clone();
    match reply {
        Reply::Status(status, body) => (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response(),
        Reply::Token {
            expires_in,
            latency,
        } => {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let grant = url::form_urlencoded::parse(body.as_bytes())
                .find(|(k, _)| k == "grant_type")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let access =
                testkit::logs::secret(format!("eyJhbGciOiJSUzI1NiJ9.access-{n}-{grant}.c2ln"));
            let mut doc = json!({
                "access_token": access,
                "token_type": "bearer",
                "expires_in": expires_in,
                "scope": format!("{XSAPPNAME}.Read uaa.resource"),
                "jti": format!("{n:032x}"),
            });
            let mut issued = vec![access];
            if grant != "client_credentials" {
                let refresh = testkit::logs::secret(format!("refresh-token-{n}-r"));
                let id = testkit::logs::secret(format!("eyJhbGciOiJSUzI1NiJ9.id-token-{n}.c2ln"));
                doc["refresh_token"] = refresh.clone().into();
                doc["id_token"] = id.clone().into();
                issued.extend([refresh, id]);
            }
            state.issued.lock().unwrap().extend(issued);
            axum::Json(doc).into_response()
        }
    }
}

/// An axum listener speaking TLS with a fresh self-signed certificate for `127.0.0.1`.
pub struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `app` over HTTPS on 127.0.0.1:0, requiring a client certificate if `client_root` is
/// given; returns the address and the server certificate (PEM) to trust.
pub async fn serve_tls(
    app: axum::Router,
    client_root: Option<rustls::pki_types::CertificateDer<'static>>,
) -> (std::net::SocketAddr, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let builder = rustls::ServerConfig::builder();
    let builder = match client_root {
        None => builder.with_no_client_auth(),
        Some(root) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(root).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, cert.cert.pem().into_bytes())
}
