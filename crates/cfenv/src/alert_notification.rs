//! [`AlertNotificationBinding`]: validated credentials of an SAP Alert Notification service
//! binding (label `alert-notification`; docs/protocols.md §SAP Alert Notification service).

use url::Url;

use crate::{Error, Secret, ServiceInstance};

/// The validated credentials of an Alert Notification service key or binding with OAuth
/// client credentials (the `standard` plan's default).
///
/// Required: `url` (the service's API origin, under which the producer API lives at
/// `/cf/producer/v1/resource-events`), `client_id`, `client_secret`, `oauth_url` (the token
/// endpoint, often with `?grant_type=client_credentials` already in the query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertNotificationBinding {
    /// The instance's `name`.
    pub instance_name: String,
    /// The service's API origin.
    pub url: Url,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: Secret,
    /// The token endpoint.
    pub oauth_url: Url,
}

impl AlertNotificationBinding {
    pub(crate) fn parse(origin: &str, instance: &ServiceInstance) -> Result<Self, Error> {
        let c = instance.credentials_obj(origin)?;
        Ok(Self {
            instance_name: instance.name.clone(),
            url: c.url("url")?,
            client_id: c.string("client_id")?,
            client_secret: c.secret("client_secret")?,
            oauth_url: c.url("oauth_url")?,
        })
    }
}
