//! `bridge env check`: which bindings the environment has, and whether the ones the app needs
//! are present and valid. Prints names, labels, plans, tags and credential field names, never
//! a value.

use std::process::ExitCode;

use cfenv::{Env, Vcap};

use crate::cli::{BindingKind, EnvCheckArgs};

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
        BindingKind::Postgres,
    ] {
        let required = args.require.contains(&kind);
        let result = match kind {
            BindingKind::Xsuaa => vcap.xsuaa(None).map(|b| b.instance_name),
            BindingKind::Credstore => vcap.credstore(None).map(|b| {
                if let Some(expiry) = b.expires_at.as_deref() {
                    ok &= report_expiry(&b.instance_name, expiry, chrono::Utc::now());
                }
                b.instance_name
            }),
            BindingKind::Privatelink => vcap.privatelink(None).map(|b| b.instance_name),
            BindingKind::Postgres => vcap.postgres(None).map(|b| b.instance_name),
        };
        let name = kind_name(kind);
        match (result, required) {
            (Ok(instance), _) => println!("{name}: ok ({instance})"),
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
        BindingKind::Postgres => "postgres",
    }
}
