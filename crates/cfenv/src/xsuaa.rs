//! [`XsuaaBinding`]: validated credentials of an `xsuaa` binding (see docs/protocols.md
//! §Bindings we read).

use std::fmt;

use url::Url;

use crate::{Error, Secret, ServiceInstance};

/// How the binding authenticates the client to XSUAA (`credentials.credential-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XsuaaCredentialType {
    /// `binding-secret`, the default when the field is absent: a client secret per binding.
    BindingSecret,
    /// `instance-secret` (deprecated): one client secret for the instance.
    InstanceSecret,
    /// `x509` or `X509_GENERATED` (compared ignoring case): a service-managed client
    /// certificate and key in the binding.
    X509,
    /// Anything else as written, e.g. `X509_PROVIDED` (the key is not in the binding).
    /// Nothing beyond the common fields is required.
    Other(String),
}

impl XsuaaCredentialType {
    fn parse(value: Option<&str>) -> Self {
        match value {
            None | Some("binding-secret") => Self::BindingSecret,
            Some("instance-secret") => Self::InstanceSecret,
            Some(v)
                if v.eq_ignore_ascii_case("x509") || v.eq_ignore_ascii_case("x509_generated") =>
            {
                Self::X509
            }
            Some(other) => Self::Other(other.to_owned()),
        }
    }

    /// The value as written in bindings (`x509` for [`XsuaaCredentialType::X509`]).
    pub fn as_str(&self) -> &str {
        match self {
            Self::BindingSecret => "binding-secret",
            Self::InstanceSecret => "instance-secret",
            Self::X509 => "x509",
            Self::Other(other) => other,
        }
    }
}

impl fmt::Display for XsuaaCredentialType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The validated credentials of an `xsuaa` binding.
///
/// Always required: `clientid`, `url`, `uaadomain`, `xsappname`. Secret types require
/// `clientsecret`; `x509` requires `certificate`, `key` and `certurl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XsuaaBinding {
    /// The instance's `name`.
    pub instance_name: String,
    /// OAuth client id, e.g. `sb-myapp!t12345`.
    pub clientid: String,
    /// OAuth client secret (secret credential types).
    pub clientsecret: Option<Secret>,
    /// How the client authenticates.
    pub credential_type: XsuaaCredentialType,
    /// PEM certificate chain (x509).
    pub certificate: Option<Secret>,
    /// PEM private key (x509).
    pub key: Option<Secret>,
    /// Token endpoint base for x509, `https://<subdomain>.authentication.cert.<landscape>`.
    pub certurl: Option<Url>,
    /// Token endpoint base for secrets, `https://<subdomain>.authentication.<landscape>`.
    pub url: Url,
    /// Landscape domain, e.g. `authentication.eu10.hana.ondemand.com`; JWKS come from here.
    pub uaadomain: String,
    /// Expanded application name, e.g. `myapp!t12345`.
    pub xsappname: String,
    /// Subaccount subdomain.
    pub identityzone: Option<String>,
    /// Subaccount zone GUID: `zoneid`, else `identityzoneid`.
    pub zoneid: Option<String>,
    /// `dedicated`, `shared` or `external`.
    pub tenantmode: Option<String>,
    /// PEM public key of the current signing key (a fallback for JWKS).
    pub verificationkey: Option<String>,
}

impl XsuaaBinding {
    pub(crate) fn parse(origin: &str, instance: &ServiceInstance) -> Result<Self, Error> {
        let c = instance.credentials_obj(origin)?;
        // The fields every type needs come first, so their errors come first.
        let clientid = c.string("clientid")?;
        let url = c.url("url")?;
        let uaadomain = c.string("uaadomain")?;
        let xsappname = c.string("xsappname")?;
        let credential_type = XsuaaCredentialType::parse(c.opt_str("credential-type")?);
        let by = format!("credential-type `{credential_type}`");
        let (clientsecret, certificate, key, certurl) = match credential_type {
            XsuaaCredentialType::BindingSecret | XsuaaCredentialType::InstanceSecret => (
                Some(c.secret_required_by("clientsecret", &by)?),
                c.opt_secret("certificate")?,
                c.opt_secret("key")?,
                c.opt_url("certurl")?,
            ),
            XsuaaCredentialType::X509 => (
                c.opt_secret("clientsecret")?,
                Some(c.secret_required_by("certificate", &by)?),
                Some(c.secret_required_by("key", &by)?),
                Some(c.url_required_by("certurl", &by)?),
            ),
            XsuaaCredentialType::Other(_) => (
                c.opt_secret("clientsecret")?,
                c.opt_secret("certificate")?,
                c.opt_secret("key")?,
                c.opt_url("certurl")?,
            ),
        };
        let zoneid = match c.opt_string("zoneid")? {
            Some(zoneid) => Some(zoneid),
            None => c.opt_string("identityzoneid")?,
        };
        Ok(Self {
            instance_name: instance.name.clone(),
            clientid,
            clientsecret,
            credential_type,
            certificate,
            key,
            certurl,
            url,
            uaadomain,
            xsappname,
            identityzone: c.opt_string("identityzone")?,
            zoneid,
            tenantmode: c.opt_string("tenantmode")?,
            verificationkey: c.opt_string("verificationkey")?,
        })
    }
}
