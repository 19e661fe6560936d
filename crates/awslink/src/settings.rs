//! [`AwsSettings`]: what the bridge needs to know about AWS, read from two bindings:
//!
//! - the user-provided config service (default instance name `aws-config`, our own convention;
//!   its JSON keys are listed in the crate doc and in `docs/AWS.md`), and
//! - the `privatelink` binding (docs/protocols.md §Private Link endpoint names), whose
//!   wildcard host name becomes the S3 endpoint `https://bucket.<host>`.
//!
//! Parsing is pure (no IO, no logging). Unknown keys in the config service are an error, so a
//! misspelt optional key (`externalID`) cannot be silently ignored. Errors name the instance
//! and the field, never a value.

use std::time::Duration;

use cfenv::{UserProvided, Vcap};
use serde_json::Value;
use url::Url;

use crate::error::Error;

/// The default name of the user-provided config service.
pub const DEFAULT_CONFIG_INSTANCE: &str = "aws-config";
/// The default `roleSessionName`.
pub const DEFAULT_SESSION_NAME: &str = "btp-aws-bridge";
/// The default `credstoreNamespace`.
pub const DEFAULT_CREDSTORE_NAMESPACE: &str = "aws";
/// The default `credstoreName`.
pub const DEFAULT_CREDSTORE_NAME: &str = "aws-iam-user";
/// The default `sessionDurationSeconds` (STS's own default).
pub const DEFAULT_SESSION_DURATION: Duration = Duration::from_secs(3600);
/// The default `refreshMarginSeconds`.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Every key the config service may have.
pub const CONFIG_KEYS: [&str; 14] = [
    "region",
    "roleArn",
    "roleSessionName",
    "externalId",
    "sessionDurationSeconds",
    "refreshMarginSeconds",
    "bucket",
    "stsEndpoint",
    "s3Endpoint",
    "forcePathStyle",
    "credstoreNamespace",
    "credstoreName",
    "privatelinkInstance",
    // Free text for people (`cf cups … -p '{"description": …}'`); ignored.
    "description",
];

/// Where S3 requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Endpoint {
    /// The `bucket.` endpoint of a `privatelink` binding (production on BTP).
    PrivateLink {
        /// The `privatelink` instance it came from.
        instance: String,
        /// `https://bucket.<host>`.
        url: Url,
    },
    /// The config service's `s3Endpoint`: an S3-compatible server (the dev stand-in, an
    /// emulator) or any other explicit endpoint.
    Custom(Url),
    /// Neither: the SDK's regional AWS endpoint (`https://s3.<region>.amazonaws.com`).
    AwsDefault,
}

impl S3Endpoint {
    /// The URL to give the SDK, if it is not the SDK's default.
    pub fn url(&self) -> Option<&Url> {
        match self {
            S3Endpoint::PrivateLink { url, .. } | S3Endpoint::Custom(url) => Some(url),
            S3Endpoint::AwsDefault => None,
        }
    }
}

/// The validated AWS settings. Nothing here is secret: the long-term keys stay in the
/// Credential Store ([`crate::keys`]); `externalId` is, by AWS's own definition, not a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// The config service instance these came from.
    pub config_instance: String,
    /// `region`: the AWS region (signing region of STS and S3; the Private Link region).
    pub region: String,
    /// `roleArn`: the role to assume.
    pub role_arn: String,
    /// `roleSessionName` (default `btp-aws-bridge`).
    pub role_session_name: String,
    /// `externalId`, if the role's trust policy requires one.
    pub external_id: Option<String>,
    /// `sessionDurationSeconds` (default 3600, 900–43200).
    pub session_duration: Duration,
    /// `refreshMarginSeconds` (default 300): refresh when less than this is left.
    pub refresh_margin: Duration,
    /// `bucket`: the default bucket, if configured.
    pub bucket: Option<String>,
    /// `stsEndpoint`: an explicit STS endpoint; `None` is the SDK's regional endpoint.
    pub sts_endpoint: Option<Url>,
    /// Where S3 requests go (`s3Endpoint`, else the `privatelink` binding, else AWS).
    pub s3_endpoint: S3Endpoint,
    /// `forcePathStyle`, if set; see [`AwsSettings::path_style`] for the default.
    pub force_path_style: Option<bool>,
    /// `credstoreNamespace` (default `aws`).
    pub credstore_namespace: String,
    /// `credstoreName` (default `aws-iam-user`).
    pub credstore_name: String,
}

impl AwsSettings {
    /// Reads the config service (`config_instance`, default `aws-config`) and the
    /// `privatelink` binding (the config's `privatelinkInstance`, else the one bound
    /// `privatelink` instance, else none).
    pub fn from_vcap(vcap: &Vcap, config_instance: Option<&str>) -> Result<Self, Error> {
        let instance = config_instance.unwrap_or(DEFAULT_CONFIG_INSTANCE);
        let up = vcap.user_provided(instance)?;
        let name = up.instance_name.clone();
        let cfg = Config {
            up: &up,
            name: &name,
        };

        if let Some(unknown) = up
            .field_names()
            .into_iter()
            .find(|k| !CONFIG_KEYS.contains(k))
        {
            return Err(Error::Config {
                instance: name.clone(),
                field: "<unknown>",
                reason: format!(
                    "unknown key `{}`; known keys: {}",
                    cfenv::text::prefix(unknown, 64),
                    CONFIG_KEYS.join(", ")
                ),
            });
        }

        let region = up.string("region")?;
        check_region(&region).map_err(|why| Error::config(&name, "region", why))?;
        let role_arn = up.string("roleArn")?;
        check_role_arn(&role_arn).map_err(|why| Error::config(&name, "roleArn", why))?;
        let role_session_name = up
            .optional_string("roleSessionName")?
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned());
        check_chars(&role_session_name, 2, 64, "+=,.@-")
            .map_err(|why| Error::config(&name, "roleSessionName", why))?;
        let external_id = up.optional_string("externalId")?;
        if let Some(id) = &external_id {
            check_chars(id, 2, 1224, "+=,.@:/-")
                .map_err(|why| Error::config(&name, "externalId", why))?;
        }
        let session_duration = cfg
            .seconds("sessionDurationSeconds")?
            .unwrap_or(DEFAULT_SESSION_DURATION);
        if !(900..=43_200).contains(&session_duration.as_secs()) {
            return Err(Error::config(
                &name,
                "sessionDurationSeconds",
                "must be between 900 and 43200 (STS limits; also at most the role's MaxSessionDuration)",
            ));
        }
        let refresh_margin = cfg
            .seconds("refreshMarginSeconds")?
            .unwrap_or(DEFAULT_REFRESH_MARGIN);
        if refresh_margin * 2 > session_duration {
            return Err(Error::config(
                &name,
                "refreshMarginSeconds",
                format!(
                    "must be at most half of sessionDurationSeconds ({} s)",
                    session_duration.as_secs()
                ),
            ));
        }
        let bucket = up.optional_string("bucket")?;
        if let Some(b) = &bucket {
            check_bucket(b).map_err(|why| Error::config(&name, "bucket", why))?;
        }
        let sts_endpoint = up.optional_url("stsEndpoint")?;
        if let Some(u) = &sts_endpoint {
            check_endpoint(u).map_err(|why| Error::config(&name, "stsEndpoint", why))?;
        }
        let s3_override = up.optional_url("s3Endpoint")?;
        if let Some(u) = &s3_override {
            check_endpoint(u).map_err(|why| Error::config(&name, "s3Endpoint", why))?;
        }
        let force_path_style = cfg.boolean("forcePathStyle")?;
        let credstore_namespace = up
            .optional_string("credstoreNamespace")?
            .unwrap_or_else(|| DEFAULT_CREDSTORE_NAMESPACE.to_owned());
        credstore::model::validate_namespace(&credstore_namespace)
            .map_err(|e| Error::config(&name, "credstoreNamespace", e.to_string()))?;
        let credstore_name = up
            .optional_string("credstoreName")?
            .unwrap_or_else(|| DEFAULT_CREDSTORE_NAME.to_owned());
        credstore::model::validate_name(&credstore_name)
            .map_err(|e| Error::config(&name, "credstoreName", e.to_string()))?;
        let privatelink_instance = up.optional_string("privatelinkInstance")?;

        let s3_endpoint = match (s3_override, privatelink_instance) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    &name,
                    "s3Endpoint",
                    "set either s3Endpoint or privatelinkInstance, not both",
                ));
            }
            (Some(url), None) => S3Endpoint::Custom(url),
            (None, Some(pl)) => private_link(vcap.privatelink(Some(&pl))?)?,
            (None, None) => match vcap.privatelink(None) {
                Ok(binding) => private_link(binding)?,
                Err(cfenv::Error::NotBound { .. }) => S3Endpoint::AwsDefault,
                Err(e) => return Err(e.into()),
            },
        };

        Ok(Self {
            config_instance: name,
            region,
            role_arn,
            role_session_name,
            external_id,
            session_duration,
            refresh_margin,
            bucket,
            sts_endpoint,
            s3_endpoint,
            force_path_style,
            credstore_namespace,
            credstore_name,
        })
    }

    /// Whether S3 requests use path-style addressing (`https://host/bucket/key`) rather than
    /// virtual-hosted (`https://bucket.host/key`).
    ///
    /// `forcePathStyle` decides when set. Otherwise: virtual-hosted for Private Link (the SDK
    /// sends to `<bucket>.bucket.<host>`, which the endpoint's wildcard DNS name covers;
    /// docs/protocols.md §Private Link endpoint names) and for AWS's own endpoint; path-style
    /// for an `s3Endpoint` override, because S3-compatible servers (the dev stand-in,
    /// emulators) are reached by IP address or a host name like `localhost` that has no
    /// per-bucket subdomains.
    pub fn path_style(&self) -> bool {
        self.force_path_style
            .unwrap_or(matches!(self.s3_endpoint, S3Endpoint::Custom(_)))
    }
}

fn private_link(binding: cfenv::PrivateLinkBinding) -> Result<S3Endpoint, Error> {
    let url = Url::parse(&binding.s3_endpoint()).map_err(|e| Error::Invalid {
        what: "privatelink host name",
        reason: format!("instance `{}`: {e}", binding.instance_name),
    })?;
    Ok(S3Endpoint::PrivateLink {
        instance: binding.instance_name,
        url,
    })
}

/// Typed reads cfenv's [`UserProvided`] has no reader for (numbers, booleans).
struct Config<'a> {
    up: &'a UserProvided,
    name: &'a str,
}

impl Config<'_> {
    /// A non-negative whole number of seconds, as a JSON number or a decimal string.
    fn seconds(&self, field: &'static str) -> Result<Option<Duration>, Error> {
        let n = match self.up.expose().get(field) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.is_empty() => return Ok(None),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        n.map(|n| Some(Duration::from_secs(n))).ok_or_else(|| {
            Error::config(
                self.name,
                field,
                "expected a whole number of seconds (a JSON number or a decimal string)",
            )
        })
    }

    /// A boolean, as JSON `true`/`false` or the strings `"true"`/`"false"`.
    fn boolean(&self, field: &'static str) -> Result<Option<bool>, Error> {
        match self.up.expose().get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(Error::config(self.name, field, "expected true or false")),
        }
    }
}

fn check_region(region: &str) -> Result<(), &'static str> {
    let ok = (4..=32).contains(&region.len())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("expected an AWS region name such as eu-central-1")
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path/>name`.
fn check_role_arn(arn: &str) -> Result<(), &'static str> {
    const WANT: &str = "expected an IAM role ARN, arn:aws:iam::<account>:role/<name>";
    if !(20..=2048).contains(&arn.len()) {
        return Err("must have 20 to 2048 characters");
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(WANT);
    };
    let ok = *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.len() > "role/".len()
        && resource.starts_with("role/");
    if ok { Ok(()) } else { Err(WANT) }
}

/// `min..=max` characters from `[A-Za-z0-9_]` plus `extra` (STS's `[\w…]*` patterns).
fn check_chars(s: &str, min: usize, max: usize, extra: &str) -> Result<(), String> {
    let len = s.chars().count();
    if !(min..=max).contains(&len) {
        return Err(format!("must have {min} to {max} characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c))
    {
        return Err(format!(
            "may contain only letters, digits, `_` and `{extra}` (no spaces)"
        ));
    }
    Ok(())
}

/// S3 bucket naming rules (general purpose buckets): 3–63 of `a-z 0-9 . -`, starting and
/// ending with a letter or digit.
fn check_bucket(b: &str) -> Result<(), &'static str> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(b.chars().next())
        && edge_ok(b.chars().last())
        && !b.contains("..")
    {
        Ok(())
    } else {
        Err("expected an S3 bucket name: 3-63 lowercase letters, digits, `.` and `-`")
    }
}

/// An endpoint is scheme, host and port only: the SDK mishandles path prefixes
/// (aws-sdk-rust#1387), and a query would be signed into every request.
fn check_endpoint(u: &Url) -> Result<(), &'static str> {
    if u.path() != "/" && !u.path().is_empty() {
        return Err("must not have a path (scheme, host and port only)");
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/btp-s3-access",
            "arn:aws-cn:iam::123456789012:role/path/to/r",
        ] {
            assert_eq!(check_role_arn(ok), Ok(()), "{ok}");
        }
        for bad in [
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam::12345:role/xxxxxxxx",
            "arn:aws:iam:eu-central-1:123456789012:role/x",
            "role/btp-s3-access-xxxxxxxxx",
        ] {
            assert!(check_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn buckets_and_regions() {
        assert!(check_bucket("acme-data").is_ok());
        assert!(check_bucket("a.b.c").is_ok());
        for bad in ["AB", "ab", "-abc", "abc-", "a..b", "a_b_c"] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
        assert!(check_region("eu-central-1").is_ok());
        assert!(check_region("EU").is_err());
    }
}
