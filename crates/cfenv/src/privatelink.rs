//! [`PrivateLinkBinding`]: the `privatelink` binding and the S3 endpoints built from it
//! (docs/protocols.md §Private Link endpoint names).

use crate::{Error, Problem, ServiceInstance};

/// The validated credentials of a `privatelink` binding: only a host name.
///
/// For S3 the host name starts with a wildcard, e.g.
/// `*.vpce-0123-abcd.s3.eu-central-1.vpce.amazonaws.com`; the endpoints drop it.
/// A `:port` suffix is accepted so a local stand-in can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateLinkBinding {
    /// The instance's `name`.
    pub instance_name: String,
    /// The host name as written, wildcard included.
    pub hostname: String,
}

impl PrivateLinkBinding {
    pub(crate) fn parse(origin: &str, instance: &ServiceInstance) -> Result<Self, Error> {
        let c = instance.credentials_obj(origin)?;
        let hostname = c.string("hostname")?;
        check_host(&hostname).map_err(|why| c.error("hostname", Problem::InvalidHostname(why)))?;
        Ok(Self {
            instance_name: instance.name.clone(),
            hostname,
        })
    }

    /// The host name without a leading `*.`.
    pub fn endpoint_host(&self) -> &str {
        self.hostname.strip_prefix("*.").unwrap_or(&self.hostname)
    }

    /// `https://<prefix>.<host>`: `bucket`, `accesspoint` or `control` for S3.
    pub fn endpoint(&self, prefix: &str) -> String {
        format!("https://{prefix}.{}", self.endpoint_host())
    }

    /// The S3 endpoint for bucket and object APIs, `https://bucket.<host>`.
    pub fn s3_endpoint(&self) -> String {
        self.endpoint("bucket")
    }
}

/// Accepts `[*.]label.label…[:port]` with letters, digits, `-` and `.`; returns a fixed reason
/// otherwise (never the value).
fn check_host(hostname: &str) -> Result<(), &'static str> {
    let host = hostname.strip_prefix("*.").unwrap_or(hostname);
    if host.contains("://") {
        return Err("expected a host name, not a URL");
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err("empty label");
    }
    if !name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
    {
        return Err("only letters, digits, `-` and `.` are allowed after the leading `*.`");
    }
    if let Some(port) = port
        && !matches!(port.parse::<u16>(), Ok(p) if p != 0)
    {
        return Err("invalid port number");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_check() {
        let cases: &[(&str, Result<(), &str>)] = &[
            ("*.vpce-1-a.s3.eu-central-1.vpce.amazonaws.com", Ok(())),
            ("vpce-1-a.sqs.eu-central-1.vpce.amazonaws.com", Ok(())),
            ("*.vpce-local.s3.eu-central-1.localhost:9000", Ok(())),
            ("https://x.example", Err("expected a host name, not a URL")),
            ("*.", Err("empty label")),
            ("a..b", Err("empty label")),
            (
                "a/b",
                Err("only letters, digits, `-` and `.` are allowed after the leading `*.`"),
            ),
            ("a.b:0", Err("invalid port number")),
            ("a.b:x", Err("invalid port number")),
        ];
        for (host, want) in cases {
            assert_eq!(check_host(host), *want, "{host}");
        }
    }
}
