//! `bridge env check`: which bindings the environment has, and whether the ones the app needs
//! are present and valid. Prints names, labels, plans, tags and credential field names, never
//! a credential's value; for the user-provided `aws-config` also the settings `bridge serve`
//! will use (region, role ARN, bucket, endpoints), none of which is a credential.

use std::process::ExitCode;

use awslink::{AwsSettings, S3Endpoint};
use cfenv::{Env, Vcap};

use clap::{Args, Subcommand, ValueEnum};

/// Runs the check; exit 0 when every required binding is valid, 2 otherwise.
#[allow(clippy::print_stdout)]
pub fn check(args: &EnvCheckArgs) -> ExitCode {
    let env = Env::from_process();
    let mut ok = true;

    match cfenv::port(&env) {
        Ok(Some(port)) => println!("PORT: {port}"),
        Ok(None) => println!("PORT: not set (bridge serve will use its default)"),
        Err(e) => {
            println!("PORT: invalid: {e}");
            ok = false;
        }
    }

    let vcap = match Vcap::from_env(&env) {
        Ok(v) => v,
        Err(e) => {
            println!("VCAP_SERVICES: {e}");
            println!("result: FAILED");
            return ExitCode::from(super::USAGE);
        }
    };
    println!("VCAP_SERVICES: read from {}", vcap.origin());
    let summary = vcap.summary();
    if summary.is_empty() {
        println!("  (no service instances bound)");
    }
    for line in &summary {
        println!("  - {line}");
    }

    for kind in [
        BindingKind::Xsuaa,
        BindingKind::Credstore,
        BindingKind::Privatelink,
        BindingKind::AwsConfig,
        BindingKind::Postgres,
    ] {
        let required = args.require.contains(&kind);
        let result = match kind {
            BindingKind::Xsuaa => named(vcap.xsuaa(None).map(|b| b.instance_name)),
            BindingKind::Credstore => named(vcap.credstore(None).map(|b| {
                if let Some(expiry) = b.expires_at.as_deref() {
                    ok &= report_expiry(&b.instance_name, expiry, chrono::Utc::now());
                }
                b.instance_name
            })),
            BindingKind::Privatelink => named(vcap.privatelink(None).map(|b| b.instance_name)),
            BindingKind::AwsConfig => {
                AwsSettings::from_vcap(&vcap, args.aws_config_instance.as_deref())
                    .map(|s| (s.config_instance.clone(), aws_details(&s)))
                    .map_err(|e| e.to_string())
            }
            BindingKind::Postgres => named(vcap.postgres(None).map(|b| b.instance_name)),
        };
        let name = kind_name(kind);
        match (result, required) {
            (Ok((instance, details)), _) => {
                println!("{name}: ok ({instance})");
                for line in details {
                    println!("    {line}");
                }
            }
            (Err(e), true) => {
                println!("{name}: MISSING OR INVALID (required): {e}");
                ok = false;
            }
            (Err(e), false) => println!("{name}: not usable (optional): {e}"),
        }
    }
    if ok {
        println!("result: ok");
        ExitCode::SUCCESS
    } else {
        println!("result: FAILED");
        ExitCode::from(super::USAGE)
    }
}

/// A binding check's result: the instance name and detail lines, or the error's message.
fn named<E: std::fmt::Display>(result: Result<String, E>) -> Result<(String, Vec<String>), String> {
    result
        .map(|instance| (instance, Vec::new()))
        .map_err(|e| e.to_string())
}

/// What `bridge serve` will use from `aws-config` (see `docs/AWS.md`). Nothing here is a
/// credential: the long-term keys stay in the Credential Store. The external id is not a
/// secret either ("AWS does not treat the external ID as a secret", IAM User Guide,
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html>),
/// but only whether one is set is shown, to be safe.
fn aws_details(s: &AwsSettings) -> Vec<String> {
    // Scheme, host and port: all an endpoint may have (cfenv refuses URLs with a user name or
    // password, and awslink a path or query).
    let origin = |u: &url::Url| u.origin().ascii_serialization();
    let sts = s
        .sts_endpoint
        .as_ref()
        .map_or_else(|| "the regional AWS endpoint".to_owned(), origin);
    let s3 = match &s.s3_endpoint {
        S3Endpoint::PrivateLink { instance, url } => {
            format!("{} (privatelink {instance})", origin(url))
        }
        S3Endpoint::Custom(url) => format!("{} (s3Endpoint)", origin(url)),
        S3Endpoint::AwsDefault => "the regional AWS endpoint (no privatelink bound)".to_owned(),
    };
    vec![
        format!("region       {}", s.region),
        format!("role ARN     {}", s.role_arn),
        format!(
            "external id  {}",
            if s.external_id.is_some() {
                "set (value masked)"
            } else {
                "not set"
            }
        ),
        format!("bucket       {}", s.bucket.as_deref().unwrap_or("not set")),
        format!("STS          {sts}"),
        format!(
            "S3           {s3}, {}",
            if s.path_style() {
                "path-style"
            } else {
                "virtual-hosted"
            }
        ),
        format!(
            "AWS keys     Credential Store namespace {}, name {}",
            s.credstore_namespace, s.credstore_name
        ),
    ]
}

/// Credential Store bindings expire (60 days by default) and must then be recreated. Prints
/// when; returns false once expired.
#[allow(clippy::print_stdout)]
fn report_expiry(instance: &str, expires_at: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    match chrono::DateTime::parse_from_rfc3339(expires_at) {
        Err(_) => {
            println!(
                "credstore binding {instance}: expires_at {expires_at:?} is not an ISO-8601 time"
            );
            true
        }
        Ok(at) => {
            let left = at.with_timezone(&chrono::Utc) - now;
            if left <= chrono::Duration::zero() {
                println!(
                    "credstore binding {instance}: EXPIRED at {expires_at}; rebind the app (cf unbind-service / bind-service) or recreate the service key"
                );
                false
            } else if left < chrono::Duration::days(7) {
                println!(
                    "credstore binding {instance}: WARNING: expires in {} h (at {expires_at}); rebind soon",
                    left.num_hours()
                );
                true
            } else {
                println!(
                    "credstore binding {instance}: valid until {expires_at} ({} days)",
                    left.num_days()
                );
                true
            }
        }
    }
}

fn kind_name(kind: BindingKind) -> &'static str {
    match kind {
        BindingKind::Xsuaa => "xsuaa",
        BindingKind::Credstore => "credstore",
        BindingKind::Privatelink => "privatelink",
        BindingKind::AwsConfig => "aws-config",
        BindingKind::Postgres => "postgres",
    }
}

/// `bridge env …`.
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Show which bindings are present and check the ones the app needs (names only, never values).
    Check(EnvCheckArgs),
}

/// Arguments of `bridge env check`.
#[derive(Debug, Args)]
pub struct EnvCheckArgs {
    /// Bindings that must be present and valid.
    #[arg(long, value_delimiter = ',', default_value = "credstore")]
    pub require: Vec<BindingKind>,
    /// The user-provided service with the AWS settings (default `aws-config`), as for
    /// `bridge serve`.
    #[arg(long, env = "BRIDGE_AWS_CONFIG_INSTANCE")]
    pub aws_config_instance: Option<String>,
}

/// The binding kinds `bridge env check` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BindingKind {
    /// XSUAA (label `xsuaa`).
    Xsuaa,
    /// SAP Credential Store (label `credstore`).
    Credstore,
    /// SAP Private Link (label `privatelink`).
    Privatelink,
    /// The user-provided AWS settings (instance `aws-config`, or `--aws-config-instance`).
    AwsConfig,
    /// PostgreSQL (label `postgresql-db`).
    Postgres,
}
