//! The XSUAA service key, read once per cold start from AWS Secrets Manager
//! (`GetSecretValue`, <https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html>)
//! with the execution role's credentials, and turned into an [`XsuaaBinding`].
//!
//! The SDK client is configured by hand, without `aws-config` (which would look for profiles,
//! SSO, IMDS and so on at start): static credentials from `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (what Lambda sets for the execution role),
//! `AWS_REGION`, and the endpoint override of the settings. The SDK's standard retries (3
//! attempts) and short timeouts apply: the whole read must fit in Lambda's 10 s init phase.
//!
//! The secret string is the service key as `cf service-key` prints it: the `credentials`
//! object (`clientid`, `clientsecret`, `url`, …; for x509 `certificate`, `key`, `certurl`), or
//! that object wrapped as `{"credentials": {…}}`. `clientid` and the token URL may also come
//! from `BRIDGE_XSUAA_CLIENT_ID` and `BRIDGE_XSUAA_URL`, so a secret holding only
//! `{"clientsecret": "…"}` works too; when both name a client id they must agree.

use std::time::Duration;

use aws_sdk_secretsmanager::config::{
    BehaviorVersion, Credentials, Region, SharedHttpClient, retry::RetryConfig,
    timeout::TimeoutConfig,
};
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use cfenv::{Secret, XsuaaBinding, XsuaaCredentialType};
use serde_json::Value;
use url::Url;

use crate::error::CallerError;
use crate::settings::Settings;

/// Longest text of an AWS error message repeated.
const MAX_MESSAGE: usize = 200;

/// Reads the secret string of `settings.secret_id`.
pub async fn fetch(settings: &Settings, http: SharedHttpClient) -> Result<Secret, CallerError> {
    let aws = &settings.aws;
    let credentials = Credentials::new(
        aws.access_key_id.clone(),
        aws.secret_access_key.expose().to_owned(),
        aws.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "lambda-execution-role",
    );
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(aws.region.clone()))
        .credentials_provider(credentials)
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        );
    if let Some(endpoint) = &aws.secrets_endpoint {
        config = config.endpoint_url(endpoint.as_str().trim_end_matches('/'));
    }
    let client = aws_sdk_secretsmanager::Client::from_conf(config.build());
    let failed = |reason: String| CallerError::Secret {
        secret_id: settings.secret_id.clone(),
        reason,
    };
    let output = client
        .get_secret_value()
        .secret_id(&settings.secret_id)
        .send()
        .await
        .map_err(|e| failed(describe(&e)))?;
    // The output's `Debug` redacts the value; it is never printed anyway.
    match output.secret_string {
        Some(s) if !s.is_empty() => Ok(Secret::new(s)),
        _ => Err(failed(
            "has no SecretString (a binary secret cannot hold a service key)".into(),
        )),
    }
}

/// An SDK failure in one line: the AWS error code and message, or what kept the request from
/// an answer.
fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use cfenv::text::{Controls, Ellipsis};
    let cut = |t: &str| cfenv::text::cut(t, MAX_MESSAGE, Controls::Drop, Ellipsis::WhenCut);
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{}: {}", cut(code), cut(message)),
                (Some(code), None) => cut(code),
                _ => "Secrets Manager refused the request".into(),
            }
        }
        SdkError::TimeoutError(_) => "Secrets Manager did not answer in time".into(),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            "Secrets Manager did not answer in time".into()
        }
        SdkError::DispatchFailure(_) => format!(
            "Secrets Manager unreachable: {}",
            cfenv::text::root_cause(err)
        ),
        _ => format!(
            "unexpected answer from Secrets Manager: {}",
            cfenv::text::root_cause(err)
        ),
    }
}

/// The service key in `secret` as a binding, with the settings' overrides applied.
pub fn binding(secret: &Secret, settings: &Settings) -> Result<XsuaaBinding, CallerError> {
    let bad = |reason: String| CallerError::Secret {
        secret_id: settings.secret_id.clone(),
        reason,
    };
    // serde's message is dropped: it can quote the secret.
    let value: Value = serde_json::from_str(secret.expose())
        .map_err(|_| bad("the SecretString is not JSON (expected the XSUAA service key)".into()))?;
    let Some(mut key) = value.as_object() else {
        return Err(bad("the SecretString is not a JSON object".into()));
    };
    if !key.contains_key("clientid")
        && !key.contains_key("clientsecret")
        && let Some(Value::Object(inner)) = key.get("credentials")
    {
        key = inner;
    }
    let field = |name: &'static str| -> Result<Option<String>, CallerError> {
        match key.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("service key field `{name}` is not a string"))),
        }
    };
    let url_field = |name: &'static str| -> Result<Option<Url>, CallerError> {
        field(name)?
            .map(|u| {
                Url::parse(&u).map_err(|_| bad(format!("service key field `{name}` is not a URL")))
            })
            .transpose()
    };
    let clientid = match (field("clientid")?, settings.xsuaa_client_id.as_deref()) {
        (Some(key_id), Some(env_id)) if key_id != env_id => {
            return Err(CallerError::config(
                crate::settings::XSUAA_CLIENT_ID,
                "differs from the service key's `clientid` (is BRIDGE_SECRET_ID the right secret?)",
            ));
        }
        (Some(id), _) => id,
        (None, Some(id)) => id.to_owned(),
        (None, None) => {
            return Err(bad(
                "service key has no `clientid` (and BRIDGE_XSUAA_CLIENT_ID is not set)".into(),
            ));
        }
    };
    let clientsecret = field("clientsecret")?.map(Secret::new);
    let certificate = field("certificate")?.map(Secret::new);
    let private_key = field("key")?.map(Secret::new);
    let declared = field("credential-type")?;
    let x509 = match declared.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("x509") || t.eq_ignore_ascii_case("x509_generated") => {
            true
        }
        Some("binding-secret" | "instance-secret") => false,
        _ => clientsecret.is_none() && certificate.is_some(),
    };
    let mut url = url_field("url")?;
    let mut certurl = url_field("certurl")?;
    if let Some(over) = &settings.xsuaa_url {
        if x509 {
            certurl = Some(over.clone());
        } else {
            url = Some(over.clone());
        }
    }
    if x509 {
        if certificate.is_none() || private_key.is_none() {
            return Err(bad("x509 service key needs `certificate` and `key`".into()));
        }
        if certurl.is_none() {
            return Err(bad(
                "x509 service key has no `certurl` (and BRIDGE_XSUAA_URL is not set)".into(),
            ));
        }
    } else if clientsecret.is_none() {
        return Err(bad(
            "service key has neither `clientsecret` nor `certificate` and `key`".into(),
        ));
    }
    let url = match (url, &certurl) {
        (Some(url), _) => url,
        (None, Some(certurl)) if x509 => certurl.clone(),
        _ => {
            return Err(bad(
                "service key has no `url` (and BRIDGE_XSUAA_URL is not set)".into(),
            ));
        }
    };
    let zoneid = match field("zoneid")? {
        Some(z) => Some(z),
        None => field("identityzoneid")?,
    };
    Ok(XsuaaBinding {
        instance_name: "secretsmanager".to_owned(),
        clientid,
        clientsecret,
        credential_type: if x509 {
            XsuaaCredentialType::X509
        } else {
            XsuaaCredentialType::BindingSecret
        },
        certificate,
        key: private_key,
        certurl,
        url,
        uaadomain: field("uaadomain")?.unwrap_or_default(),
        xsappname: field("xsappname")?.unwrap_or_default(),
        identityzone: field("identityzone")?,
        zoneid,
        tenantmode: field("tenantmode")?,
        verificationkey: None,
    })
}

#[cfg(test)]
mod tests {
    use cfenv::Env;
    use serde_json::json;

    use super::*;

    const SECRET: &str = "s3cr3t-Value+with/$pecial=chars";

    fn settings(extra: &[(&str, &str)]) -> Settings {
        let mut pairs = vec![
            ("BRIDGE_APP_URL", "https://app.example.com"),
            ("BRIDGE_SECRET_ID", "bridge/xsuaa"),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "ASIA"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ];
        pairs.extend_from_slice(extra);
        Settings::from_env(&Env::from_pairs(pairs)).expect("settings")
    }

    fn key() -> Value {
        json!({"clientid":"sb-bridge!t1","clientsecret":SECRET,
            "url":"https://sub.authentication.eu10.hana.ondemand.com",
            "uaadomain":"authentication.eu10.hana.ondemand.com","xsappname":"bridge!t1",
            "identityzone":"sub","zoneid":"z1","credential-type":"binding-secret"})
    }

    fn reason(result: Result<XsuaaBinding, CallerError>) -> String {
        match result {
            Err(e) => {
                assert!(!e.to_string().contains(SECRET), "{e}");
                e.to_string()
            }
            Ok(b) => panic!("expected an error, got {b:?}"),
        }
    }

    #[test]
    fn a_service_key_plain_or_wrapped() {
        for value in [key(), json!({"credentials": key()})] {
            let b = binding(&Secret::new(value.to_string()), &settings(&[])).expect("valid");
            assert_eq!(b.clientid, "sb-bridge!t1");
            assert_eq!(b.clientsecret.as_ref().map(Secret::expose), Some(SECRET));
            assert_eq!(b.credential_type, XsuaaCredentialType::BindingSecret);
            assert_eq!(b.zoneid.as_deref(), Some("z1"));
        }
    }

    #[test]
    fn a_minimal_secret_with_the_rest_from_the_environment() {
        let s = settings(&[
            ("BRIDGE_XSUAA_URL", "https://uaa.example"),
            ("BRIDGE_XSUAA_CLIENT_ID", "sb-x"),
        ]);
        let b = binding(
            &Secret::new(json!({"clientsecret": SECRET}).to_string()),
            &s,
        )
        .expect("valid");
        assert_eq!(b.clientid, "sb-x");
        assert_eq!(b.url.as_str(), "https://uaa.example/");
    }

    #[test]
    fn x509_keys_use_certurl() {
        let v = json!({"clientid":"sb-x","credential-type":"x509","certificate":"CERT",
            "key":"KEY","url":"https://sub.authentication.x","certurl":"https://sub.authentication.cert.x"});
        let b = binding(&Secret::new(v.to_string()), &settings(&[])).expect("valid");
        assert_eq!(b.credential_type, XsuaaCredentialType::X509);
        assert_eq!(
            b.certurl.map(|u| u.to_string()).as_deref(),
            Some("https://sub.authentication.cert.x/")
        );
    }

    #[test]
    fn unusable_secrets_are_named_without_their_content() {
        let s = settings(&[]);
        let cases: Vec<(String, &str)> = vec![
            (format!("{SECRET} not json"), "the SecretString is not JSON"),
            (json!([SECRET]).to_string(), "not a JSON object"),
            (json!({"clientsecret": SECRET, "url": "https://u"}).to_string(), "no `clientid`"),
            (json!({"clientid": "a", "url": "https://u"}).to_string(), "neither `clientsecret`"),
            (json!({"clientid": "a", "clientsecret": SECRET}).to_string(), "no `url`"),
            (json!({"clientid": "a", "clientsecret": SECRET, "url": SECRET}).to_string(), "`url` is not a URL"),
            (json!({"clientid": 1, "clientsecret": SECRET}).to_string(), "`clientid` is not a string"),
            (
                json!({"clientid": "a", "credential-type": "x509", "certificate": "C", "certurl": "https://c"}).to_string(),
                "needs `certificate` and `key`",
            ),
        ];
        for (text, want) in cases {
            let got = reason(binding(&Secret::new(text), &s));
            assert!(got.contains(want), "{got}");
            assert!(got.starts_with("secret bridge/xsuaa: "), "{got}");
        }
        let other = settings(&[("BRIDGE_XSUAA_CLIENT_ID", "sb-other")]);
        let got = reason(binding(&Secret::new(key().to_string()), &other));
        assert!(
            got.starts_with("environment variable BRIDGE_XSUAA_CLIENT_ID: differs"),
            "{got}"
        );
    }
}
