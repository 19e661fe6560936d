//! [`Settings`]: everything the function reads from its environment, checked once at cold
//! start. A missing or unusable variable is a [`CallerError::Config`] naming it (reported to
//! Lambda as an init error, `Caller.Init.Config`). The variables are listed in the crate docs
//! and in `docs/CONFIG.md`.

use std::path::PathBuf;

use cfenv::{Env, Secret};
use url::Url;

use crate::error::CallerError;
use crate::event::Target;

/// The app's base URL.
pub const APP_URL: &str = "BRIDGE_APP_URL";
/// The Secrets Manager secret (name or ARN) holding the XSUAA service key.
pub const SECRET_ID: &str = "BRIDGE_SECRET_ID";
/// Optional: the XSUAA token endpoint base, overriding the service key's `url` (`certurl`
/// for x509 keys).
pub const XSUAA_URL: &str = "BRIDGE_XSUAA_URL";
/// Optional: the expected OAuth client id; must equal the service key's `clientid`.
pub const XSUAA_CLIENT_ID: &str = "BRIDGE_XSUAA_CLIENT_ID";
/// Optional: a PEM file of extra root certificates (the dev CA locally).
pub const EXTRA_CA_CERTS: &str = "BRIDGE_EXTRA_CA_CERTS";
/// Optional: the call for classic EventBridge scheduled events, `METHOD /path`.
pub const DEFAULT_TARGET: &str = "BRIDGE_DEFAULT_TARGET";
/// Optional: the Secrets Manager endpoint (the AWS SDKs' service-specific endpoint variable).
pub const SECRETS_ENDPOINT: &str = "AWS_ENDPOINT_URL_SECRETS_MANAGER";
/// Optional: the endpoint of every AWS service (the AWS SDKs' global endpoint variable).
pub const AWS_ENDPOINT: &str = "AWS_ENDPOINT_URL";

/// The default call for classic scheduled events.
pub const DEFAULT_TARGET_VALUE: &str = "GET /jobs/ping";

/// The execution role's credentials and where to reach Secrets Manager.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// `AWS_REGION`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `AWS_SESSION_TOKEN` (set by Lambda for the execution role).
    pub session_token: Option<Secret>,
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL`; `None`: the regional
    /// endpoint.
    pub secrets_endpoint: Option<Url>,
}

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The app's base URL, without a trailing `/` (paths are appended to it).
    pub app_url: Url,
    /// The secret holding the XSUAA service key.
    pub secret_id: String,
    /// Overrides the service key's token endpoint base.
    pub xsuaa_url: Option<Url>,
    /// The client id the service key must have.
    pub xsuaa_client_id: Option<String>,
    /// Extra root certificates (PEM) for XSUAA, the app and Secrets Manager.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// The call for classic EventBridge scheduled events.
    pub default_target: Target,
    /// AWS access.
    pub aws: AwsSettings,
}

impl Settings {
    /// Reads and checks every variable.
    pub fn from_env(env: &Env) -> Result<Self, CallerError> {
        let app_url = base_url(APP_URL, &required(env, APP_URL)?)?;
        let secret_id = required(env, SECRET_ID)?;
        if secret_id.len() > 2048 || secret_id.chars().any(char::is_control) {
            return Err(CallerError::config(
                SECRET_ID,
                "expected a secret name or ARN (at most 2048 characters)",
            ));
        }
        let xsuaa_url = optional(env, XSUAA_URL)
            .map(|v| base_url(XSUAA_URL, &v))
            .transpose()?;
        let xsuaa_client_id = optional(env, XSUAA_CLIENT_ID);
        let extra_roots_pem = match optional(env, EXTRA_CA_CERTS) {
            None => Vec::new(),
            Some(path) => {
                let path = PathBuf::from(path);
                let pem = std::fs::read(&path).map_err(|e| {
                    CallerError::config(
                        EXTRA_CA_CERTS,
                        format!("cannot read {}: {}", path.display(), e.kind()),
                    )
                })?;
                tlsroots::extra(std::slice::from_ref(&pem)).map_err(|e| {
                    CallerError::config(EXTRA_CA_CERTS, format!("{}: {}", path.display(), e.reason))
                })?;
                vec![pem]
            }
        };
        let default_target = match optional(env, DEFAULT_TARGET) {
            None => Target::parse(DEFAULT_TARGET_VALUE),
            Some(v) => Target::parse(&v),
        }
        .map_err(|reason| CallerError::config(DEFAULT_TARGET, reason))?;
        let secrets_endpoint = match optional(env, SECRETS_ENDPOINT) {
            Some(v) => Some(base_url(SECRETS_ENDPOINT, &v)?),
            None => optional(env, AWS_ENDPOINT)
                .map(|v| base_url(AWS_ENDPOINT, &v))
                .transpose()?,
        };
        let aws = AwsSettings {
            region: required(env, "AWS_REGION")?,
            access_key_id: required(env, "AWS_ACCESS_KEY_ID")?,
            secret_access_key: Secret::new(required(env, "AWS_SECRET_ACCESS_KEY")?),
            session_token: optional(env, "AWS_SESSION_TOKEN").map(Secret::new),
            secrets_endpoint,
        };
        Ok(Self {
            app_url,
            secret_id,
            xsuaa_url,
            xsuaa_client_id,
            extra_roots_pem,
            default_target,
            aws,
        })
    }
}

fn optional(env: &Env, name: &'static str) -> Option<String> {
    env.var(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn required(env: &Env, name: &'static str) -> Result<String, CallerError> {
    optional(env, name).ok_or_else(|| CallerError::config(name, "missing"))
}

/// An `http(s)` URL with a host and no user info, query or fragment; the trailing `/` of its
/// path is dropped.
fn base_url(variable: &'static str, value: &str) -> Result<Url, CallerError> {
    let url = Url::parse(value)
        .map_err(|e| CallerError::config(variable, format!("not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(CallerError::config(
            variable,
            "expected an https:// (or http://) URL with a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: it would be a credential.
        return Err(CallerError::config(
            variable,
            "must not carry user info (credentials come from the secret)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CallerError::config(
            variable,
            "must not have a query or a fragment",
        ));
    }
    let mut url = url;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let base = [
            (APP_URL, "https://app.example.com/"),
            (SECRET_ID, "btp-aws-bridge/xsuaa"),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "c2VjcmV0LWFjY2Vzcy1rZXk"),
        ];
        let mut all: Vec<(String, String)> = base
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in pairs {
            all.retain(|(name, _)| name != k);
            all.push((k.to_string(), v.to_string()));
        }
        Env::from_pairs(all)
    }

    fn variable_of(result: Result<Settings, CallerError>) -> (&'static str, String) {
        match result {
            Err(CallerError::Config { variable, reason }) => (variable, reason),
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn minimal_environment() {
        let s = Settings::from_env(&env(&[])).expect("valid");
        assert_eq!(s.app_url.as_str(), "https://app.example.com/");
        assert_eq!(s.default_target.to_string(), "GET /jobs/ping");
        assert!(s.aws.session_token.is_none());
        assert!(s.aws.secrets_endpoint.is_none());
        assert!(!format!("{s:?}").contains("c2VjcmV0LWFjY2Vzcy1rZXk"));
    }

    #[test]
    fn overrides() {
        let s = Settings::from_env(&env(&[
            (APP_URL, "https://app.example.com/base/"),
            (
                XSUAA_URL,
                "https://sub.authentication.eu10.hana.ondemand.com",
            ),
            (XSUAA_CLIENT_ID, "sb-bridge!t1"),
            (DEFAULT_TARGET, "POST /jobs/nightly"),
            (AWS_ENDPOINT, "https://all.example"),
            (SECRETS_ENDPOINT, "http://127.0.0.1:4015"),
            ("AWS_SESSION_TOKEN", "token"),
        ]))
        .expect("valid");
        assert_eq!(s.app_url.as_str(), "https://app.example.com/base");
        assert_eq!(s.default_target.to_string(), "POST /jobs/nightly");
        assert_eq!(
            s.aws.secrets_endpoint.map(|u| u.to_string()),
            Some("http://127.0.0.1:4015/".to_owned())
        );
        assert_eq!(s.xsuaa_client_id.as_deref(), Some("sb-bridge!t1"));
    }

    #[test]
    fn every_bad_variable_is_named() {
        type Case = (
            Vec<(&'static str, &'static str)>,
            &'static str,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (vec![(APP_URL, "")], APP_URL, "missing"),
            (
                vec![(APP_URL, "app.example.com")],
                APP_URL,
                "not an absolute URL",
            ),
            (
                vec![(APP_URL, "ftp://app.example.com")],
                APP_URL,
                "expected an https://",
            ),
            (
                vec![(APP_URL, "https://u:p@app.example.com")],
                APP_URL,
                "must not carry user info",
            ),
            (
                vec![(APP_URL, "https://app.example.com/?x=1")],
                APP_URL,
                "must not have a query",
            ),
            (vec![(SECRET_ID, " ")], SECRET_ID, "missing"),
            (vec![(XSUAA_URL, "uaa")], XSUAA_URL, "not an absolute URL"),
            (
                vec![(DEFAULT_TARGET, "ping")],
                DEFAULT_TARGET,
                "expected `METHOD /path`",
            ),
            (
                vec![(DEFAULT_TARGET, "GET //x")],
                DEFAULT_TARGET,
                "must not start with `//`",
            ),
            (
                vec![(EXTRA_CA_CERTS, "/nonexistent/ca.pem")],
                EXTRA_CA_CERTS,
                "cannot read",
            ),
            (
                vec![(SECRETS_ENDPOINT, "127.0.0.1:4015")],
                SECRETS_ENDPOINT,
                "not an absolute URL",
            ),
            (vec![("AWS_REGION", "")], "AWS_REGION", "missing"),
            (
                vec![("AWS_ACCESS_KEY_ID", "")],
                "AWS_ACCESS_KEY_ID",
                "missing",
            ),
            (
                vec![("AWS_SECRET_ACCESS_KEY", "")],
                "AWS_SECRET_ACCESS_KEY",
                "missing",
            ),
        ];
        for (pairs, variable, reason) in cases {
            let (got_var, got_reason) = variable_of(Settings::from_env(&env(&pairs)));
            assert_eq!(got_var, variable, "{pairs:?}");
            assert!(got_reason.starts_with(reason), "{pairs:?}: {got_reason}");
            assert!(!got_reason.contains("u:p"), "{got_reason}");
        }
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        let path = path.to_string_lossy().into_owned();
        let (var, reason) = variable_of(Settings::from_env(&env(&[(EXTRA_CA_CERTS, &path)])));
        assert_eq!(var, EXTRA_CA_CERTS);
        assert!(reason.ends_with("holds no certificate"), "{reason}");
    }
}
