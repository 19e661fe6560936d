//! [`PostgresBinding`]: validated credentials of a PostgreSQL binding (`postgresql-db`, from
//! PostgreSQL on SAP BTP, hyperscaler option; docs/protocols.md §Bindings we read).

use crate::{Error, Secret, ServiceInstance};

/// The validated credentials of a PostgreSQL binding.
///
/// Required: `uri`, `hostname`, `port` (a number or, as BTP writes it, a string), `dbname`,
/// `username`, `password`. The URI embeds the password, so it is a [`Secret`] too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresBinding {
    /// The instance's `name`.
    pub instance_name: String,
    /// `postgres://user:pass@host:port/db`.
    pub uri: Secret,
    /// Database host.
    pub hostname: String,
    /// Database port.
    pub port: u16,
    /// Database name.
    pub dbname: String,
    /// Database user.
    pub username: String,
    /// Database password.
    pub password: Secret,
    /// PEM root certificate to verify the server with (use TLS when present).
    pub sslrootcert: Option<String>,
}

impl PostgresBinding {
    pub(crate) fn parse(origin: &str, instance: &ServiceInstance) -> Result<Self, Error> {
        let c = instance.credentials_obj(origin)?;
        Ok(Self {
            instance_name: instance.name.clone(),
            uri: c.secret("uri")?,
            hostname: c.string("hostname")?,
            port: c.port("port")?,
            dbname: c.string("dbname")?,
            username: c.string("username")?,
            password: c.secret("password")?,
            sslrootcert: c.opt_string("sslrootcert")?,
        })
    }
}
