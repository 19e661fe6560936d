//! [`StsAssumeRole`]: the real [`AssumeRoleApi`], STS's AssumeRole through aws-sdk-sts.
//!
//! **Architecture invariant:** this is the only place in the workspace that calls STS.
//!
//! The client signs with the long-term keys ([`LongTermKeys`]), read on each call and handed to
//! the SDK as a per-operation override, so a key read failure is our typed [`Error::Keys`]
//! rather than an opaque SDK dispatch error. It has no identity cache (the keys are cached by
//! the Credential Store cache, the temporary credentials by [`crate::credentials`]), its own
//! timeouts ([`Timeouts::STS`]), the SDK's standard retries, the region from the settings and
//! the endpoint `stsEndpoint` or else STS's regional endpoint (STS is not among the services
//! SAP Private Link documents; docs/protocols.md §AssumeRole request).

use std::time::SystemTime;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_sts::config::{AppName, BehaviorVersion, IdentityCache, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

use crate::credentials::{AssumeRoleApi, AssumeRoleRequest};
use crate::error::{Error, cut};
use crate::http::Timeouts;
use crate::keys::LongTermKeys;
use crate::settings::AwsSettings;

/// The provider name the SDK records for the temporary credentials.
const PROVIDER_NAME: &str = "btp-assume-role";

/// AssumeRole with aws-sdk-sts.
#[derive(Debug, Clone)]
pub struct StsAssumeRole {
    client: aws_sdk_sts::Client,
    keys: LongTermKeys,
    endpoint: String,
}

impl StsAssumeRole {
    /// An STS client for the settings' region and endpoint, signing with `keys`.
    pub fn new(
        settings: &AwsSettings,
        keys: LongTermKeys,
        http: SharedHttpClient,
        timeouts: Timeouts,
    ) -> Self {
        let mut config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .http_client(http)
            .timeout_config(timeouts.config())
            .identity_cache(IdentityCache::no_cache());
        config.set_app_name(app_name());
        let endpoint = match &settings.sts_endpoint {
            Some(url) => {
                let url = url.as_str().trim_end_matches('/').to_owned();
                config = config.endpoint_url(&url);
                url
            }
            None => format!("https://sts.{}.amazonaws.com", settings.region),
        };
        Self {
            client: aws_sdk_sts::Client::from_conf(config.build()),
            keys,
            endpoint,
        }
    }

    /// The endpoint calls go to (for messages).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// The app name in the SDK's user agent (visible in CloudTrail).
pub(crate) fn app_name() -> Option<AppName> {
    AppName::new("btp-aws-bridge").ok()
}

#[async_trait]
impl AssumeRoleApi for StsAssumeRole {
    async fn assume_role(&self, request: &AssumeRoleRequest) -> Result<Credentials, Error> {
        let keys = self.keys.load().await?;
        let duration = i32::try_from(request.duration.as_secs()).unwrap_or(i32::MAX);
        let output = self
            .client
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(&request.session_name)
            .duration_seconds(duration)
            .set_external_id(request.external_id.clone())
            .customize()
            .config_override(aws_sdk_sts::Config::builder().credentials_provider(keys))
            .send()
            .await
            .map_err(|e| self.error(&request.role_arn, e))?;
        let invalid = |reason: &str| Error::StsResponse {
            endpoint: self.endpoint.clone(),
            reason: reason.to_owned(),
        };
        let account_id = output
            .assumed_role_user()
            .and_then(|u| u.arn().split(':').nth(4))
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        let creds = output
            .credentials
            .ok_or_else(|| invalid("AssumeRoleResult has no Credentials"))?;
        let expiry = SystemTime::try_from(creds.expiration)
            .map_err(|_| invalid("Credentials.Expiration is out of range"))?;
        let mut builder = Credentials::builder()
            .access_key_id(creds.access_key_id)
            .secret_access_key(creds.secret_access_key)
            .session_token(creds.session_token)
            .expiry(expiry)
            .provider_name(PROVIDER_NAME);
        if let Some(account_id) = account_id {
            builder = builder.account_id(account_id);
        }
        Ok(builder.build())
    }
}

impl StsAssumeRole {
    fn error<E>(&self, role_arn: &str, err: SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let endpoint = self.endpoint.clone();
        match err {
            SdkError::ServiceError(ctx) => Error::Sts {
                role_arn: role_arn.to_owned(),
                code: ctx.err().code().unwrap_or("Unknown").to_owned(),
                status: Some(ctx.raw().status().as_u16()),
                message: cut(ctx.err().message().unwrap_or_default()),
            },
            SdkError::TimeoutError(_) => Error::StsTimeout {
                endpoint,
                reason: "the operation or attempt timeout passed".into(),
            },
            SdkError::DispatchFailure(f) if f.is_timeout() => Error::StsTimeout {
                endpoint,
                reason: match f.as_connector_error() {
                    Some(e) => cut(&cfenv::text::chain(e)),
                    None => "the connection timed out".into(),
                },
            },
            SdkError::DispatchFailure(f) => Error::StsUnreachable {
                endpoint,
                reason: match f.as_connector_error() {
                    Some(e) => cut(&cfenv::text::chain(e)),
                    None => "the request could not be sent".into(),
                },
            },
            SdkError::ResponseError(r) => Error::StsResponse {
                endpoint,
                reason: format!(
                    "HTTP {}: cannot parse the response",
                    r.raw().status().as_u16()
                ),
            },
            other => Error::StsResponse {
                endpoint,
                reason: cut(&cfenv::text::chain(&other)),
            },
        }
    }
}
