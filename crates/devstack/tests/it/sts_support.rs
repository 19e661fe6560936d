//! Helpers for the local STS tests: a dev stack on a manual clock, the official `aws-sdk-sts`
//! client trusting the dev CA, raw requests signed by the reference signer (`aws-sigv4`), and
//! small readers for STS's XML. Every key, secret and token they see is registered for the
//! secret scan.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use devstack::aws_identity::{ACCOUNT_ID, ManualClock};

use crate::common::Stack;

/// A dev stack whose AWS services run on a manual clock.
pub struct Aws {
    pub stack: Stack,
    pub clock: Arc<ManualClock>,
}

impl Aws {
    pub async fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap()).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        let c = clock.clone();
        let stack = Stack::start_with(dir, move |config| config.aws_clock = Some(c)).await;
        let aws = Self { stack, clock };
        testkit::logs::secret(aws.user_secret());
        testkit::logs::secret(aws.external_id());
        aws
    }

    pub fn id(&self) -> &devstack::aws_identity::AwsIdentity {
        self.stack.dev.aws_identity()
    }

    pub fn url(&self) -> String {
        self.stack.dev.sts_url().to_owned()
    }

    pub fn user_key(&self) -> String {
        self.id().user().access_key_id.clone()
    }

    pub fn user_secret(&self) -> String {
        self.id().user().secret_access_key.expose().to_owned()
    }

    pub fn external_id(&self) -> String {
        self.id().external_id().expose().to_owned()
    }

    pub fn role_arn(&self) -> String {
        self.id().role().arn.clone()
    }

    pub fn region(&self) -> String {
        self.id().region().to_owned()
    }

    pub fn now(&self) -> SystemTime {
        use devstack::aws_identity::Clock as _;
        self.clock.now().into()
    }

    /// The IAM user's long-term credentials.
    pub fn user_credentials(&self) -> Credentials {
        Credentials::new(self.user_key(), self.user_secret(), None, None, "test")
    }

    /// An `aws-sdk-sts` client for the local STS with `creds`, on the stack's clock, without
    /// retries.
    pub fn sdk(&self, creds: Credentials) -> aws_sdk_sts::Client {
        self.sdk_in(creds, &self.region())
    }

    pub fn sdk_in(&self, creds: Credentials, region: &str) -> aws_sdk_sts::Client {
        let trust = TrustStore::empty().with_pem_certificate(self.stack.dev.ca_pem().as_bytes());
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(
                TlsContext::builder()
                    .with_trust_store(trust)
                    .build()
                    .unwrap(),
            )
            .build_https();
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(self.url())
            .credentials_provider(creds)
            .http_client(http)
            .time_source(ClockSource(self.clock.clone()))
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// AssumeRole through the SDK with the user's keys and the right ExternalId.
    pub async fn assume(&self, session: &str, duration: Option<i32>) -> Credentials {
        self.assume_with_policy(session, duration, None).await
    }

    /// AssumeRole with an inline session policy, which narrows what the session may do.
    pub async fn assume_with_policy(
        &self,
        session: &str,
        duration: Option<i32>,
        policy: Option<&str>,
    ) -> Credentials {
        let out = self
            .sdk(self.user_credentials())
            .assume_role()
            .role_arn(self.role_arn())
            .role_session_name(session)
            .external_id(self.external_id())
            .set_duration_seconds(duration)
            .set_policy(policy.map(str::to_owned))
            .send()
            .await
            .unwrap();
        let c = out.credentials().unwrap();
        testkit::logs::secret(c.secret_access_key());
        testkit::logs::secret(c.session_token());
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "sts",
        )
    }

    /// A raw request to the local STS signed by the reference signer.
    pub fn signed(&self) -> Signed {
        Signed {
            url: format!("{}/", self.url()),
            method: "POST",
            body: String::new(),
            key: self.user_key(),
            secret: self.user_secret(),
            token: None,
            region: self.region(),
            service: "sts".to_owned(),
            time: self.now(),
            presign: None,
            tampered_body: None,
        }
    }

    pub fn user_arn(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT_ID}:user/{}", self.id().user().name)
    }
}

/// Makes the SDK sign with the stack's clock.
#[derive(Debug)]
struct ClockSource(Arc<ManualClock>);

impl aws_smithy_async::time::TimeSource for ClockSource {
    fn now(&self) -> SystemTime {
        use devstack::aws_identity::Clock as _;
        self.0.now().into()
    }
}

/// A request to be signed with `aws-sigv4` and sent with reqwest.
pub struct Signed {
    pub url: String,
    pub method: &'static str,
    pub body: String,
    pub key: String,
    pub secret: String,
    pub token: Option<String>,
    pub region: String,
    pub service: String,
    pub time: SystemTime,
    /// Presign for this long (signature in the query string).
    pub presign: Option<Duration>,
    /// Send this body instead of the signed one.
    pub tampered_body: Option<String>,
}

impl Signed {
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.body = crate::common::form(pairs);
        self
    }

    pub fn creds(mut self, c: &Credentials) -> Self {
        self.key = c.access_key_id().to_owned();
        self.secret = c.secret_access_key().to_owned();
        self.token = c.session_token().map(str::to_owned);
        self
    }

    pub fn time(mut self, t: SystemTime) -> Self {
        self.time = t;
        self
    }

    pub async fn send(self, http: &reqwest::Client) -> Reply {
        let mut headers: Vec<(String, String)> = Vec::new();
        if self.method == "POST" {
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ));
        }
        let identity =
            Credentials::new(&self.key, &self.secret, self.token.clone(), None, "test").into();
        let mut settings = SigningSettings::default();
        if let Some(expires) = self.presign {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires);
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            self.method,
            &self.url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(self.body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let (signed_headers, query) = instructions.into_parts();
        let mut url = url::Url::parse(&self.url).unwrap();
        for (k, v) in &query {
            url.query_pairs_mut().append_pair(k, v);
        }
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        let body = self
            .tampered_body
            .clone()
            .unwrap_or_else(|| self.body.clone());
        let mut req = http.request(method, url).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        for h in signed_headers {
            req = req.header(h.name(), h.value());
        }
        Reply::of(req.send().await.unwrap()).await
    }
}

/// An STS answer.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn of(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        for secret in ["SecretAccessKey", "SessionToken"] {
            if let Some(s) = tag(&text, secret) {
                testkit::logs::secret(s);
            }
        }
        Self {
            status,
            headers,
            text,
        }
    }

    pub fn tag(&self, name: &str) -> &str {
        tag(&self.text, name).unwrap_or_else(|| panic!("no <{name}> in {}", self.text))
    }

    /// Asserts an error answer: status, code, and STS's `ErrorResponse` envelope.
    pub fn assert_error(&self, status: u16, code: &str) -> &str {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.tag("Code"), code, "{}", self.text);
        assert!(
            self.text
                .starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
            "{}",
            self.text
        );
        assert_eq!(self.tag("Type"), "Sender");
        assert_eq!(self.tag("RequestId"), self.header("x-amzn-requestid"));
        self.tag("Message")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// The text of the first `<name>…</name>`.
pub fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// The code and message of an SDK service error.
pub fn sdk_error<E, R>(e: &aws_sdk_sts::error::SdkError<E, R>) -> (String, String)
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let meta = e
        .as_service_error()
        .unwrap_or_else(|| panic!("not a service error: {e:?}"));
    (
        meta.code().unwrap_or("").to_owned(),
        meta.message().unwrap_or("").to_owned(),
    )
}
