//! [`CredStoreBinding`]: validated credentials of a `credstore` binding (docs/protocols.md
//! §Bindings we read and §Credential Store payload encryption).

use url::Url;

use crate::fields::Obj;
use crate::{Error, Problem, Secret, ServiceInstance};

/// How the app authenticates to the Credential Store.
///
/// The binding does not name its type, so it is told from the fields present, in this order:
///
/// 1. `private_key` → [`CredStoreAuth::OAuthKey`] (then `oauth_token_url` is required);
/// 2. `certificate` or `key` → both are required; with `oauth_token_url`
///    [`CredStoreAuth::OAuthMtls`], without [`CredStoreAuth::Mtls`];
/// 3. `password` → [`CredStoreAuth::Basic`];
/// 4. none of them → an error ([`Problem::NoAuthentication`] on `credentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredStoreAuth {
    /// `basic`: HTTP Basic with the binding's `username` and `password`.
    Basic {
        /// The binding's password.
        password: Secret,
    },
    /// `mtls`: a TLS client certificate straight against `url`.
    Mtls {
        /// PEM certificate chain.
        certificate: Secret,
        /// PEM private key.
        key: Secret,
    },
    /// `oauth:mtls`: a token from `oauth_token_url` over mTLS, then bearer auth.
    OAuthMtls {
        /// PEM certificate chain.
        certificate: Secret,
        /// PEM private key.
        key: Secret,
        /// Token endpoint (`…/api/v1/token`).
        oauth_token_url: Url,
    },
    /// `oauth:key`: a token from `oauth_token_url` with a signed JWT assertion.
    OAuthKey {
        /// PEM private key that signs the assertion.
        private_key: Secret,
        /// Token endpoint (`…/api/v1/token`).
        oauth_token_url: Url,
    },
}

/// Payload encryption keys (`credentials.encryption`), bare base64 DER without PEM armour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredStoreEncryption {
    /// Decrypts what the store sends: base64 DER PKCS#8.
    pub client_private_key: Secret,
    /// Encrypts what we send: base64 DER SubjectPublicKeyInfo.
    pub server_public_key: String,
}

/// The validated credentials of a `credstore` binding.
///
/// Required: `url`, `username`, and the fields of one authentication type (see
/// [`CredStoreAuth`]). If `encryption` is present, both its keys are required: a binding made
/// with an own `client_public_key` has no `client_private_key`, and this app cannot decrypt
/// responses without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredStoreBinding {
    /// The instance's `name`.
    pub instance_name: String,
    /// API base, `…/api/v1/credentials`.
    pub url: Url,
    /// The binding id; Basic user name and OAuth client id.
    pub username: String,
    /// How to authenticate.
    pub auth: CredStoreAuth,
    /// Payload encryption keys, if encryption is on.
    pub encryption: Option<CredStoreEncryption>,
    /// When the binding expires (ISO-8601, as written), if it says.
    pub expires_at: Option<String>,
}

impl CredStoreBinding {
    pub(crate) fn parse(origin: &str, instance: &ServiceInstance) -> Result<Self, Error> {
        let c = instance.credentials_obj(origin)?;
        let encryption = match c.opt_object("encryption")? {
            None => None,
            Some(e) => Some(CredStoreEncryption {
                client_private_key: e.secret("client_private_key")?,
                server_public_key: e.string("server_public_key")?,
            }),
        };
        Ok(Self {
            instance_name: instance.name.clone(),
            url: c.url("url")?,
            username: c.string("username")?,
            auth: auth(&c)?,
            encryption,
            expires_at: c.opt_string("expires_at")?,
        })
    }
}

fn auth(c: &Obj<'_>) -> Result<CredStoreAuth, Error> {
    if c.has("private_key") {
        return Ok(CredStoreAuth::OAuthKey {
            private_key: c.secret("private_key")?,
            oauth_token_url: c.url_required_by("oauth_token_url", "`private_key`")?,
        });
    }
    if c.has("certificate") || c.has("key") {
        let certificate = c.secret_required_by("certificate", "`key`")?;
        let key = c.secret_required_by("key", "`certificate`")?;
        return Ok(match c.opt_url("oauth_token_url")? {
            Some(oauth_token_url) => CredStoreAuth::OAuthMtls {
                certificate,
                key,
                oauth_token_url,
            },
            None => CredStoreAuth::Mtls { certificate, key },
        });
    }
    if c.has("password") {
        return Ok(CredStoreAuth::Basic {
            password: c.secret("password")?,
        });
    }
    Err(c.error_here(Problem::NoAuthentication))
}
