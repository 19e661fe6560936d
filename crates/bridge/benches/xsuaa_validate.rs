//! Token validations per second on one core: our `xsuaa::validate::Validator` against
//! `@sap/xssec` 4 (node) on the same client-credentials token from the local XSUAA, in one run.
//! Both are measured verifying every signature (distinct tokens for ours, xssec's signature
//! cache off) and on a repeated token (both skip the verification through their caches). Run with
//! `cargo bench -p bridge --bench xsuaa_validate` after `cargo xtask install`.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt as _;

use cfenv::Vcap;
use devstack::{DevConfig, DevStack};

fn main() {
    // Our validations run one after another in one task, so on one core at a time; the
    // runtime's other worker keeps the local XSUAA answering while node runs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevStack::start(DevConfig::new(dir.path()).ephemeral())
        .await
        .unwrap();
    let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    let binding = vcap.xsuaa(None).unwrap();
    let claims = dev.xsuaa().client_claims(&binding.clientid).unwrap();
    let jwt = dev
        .xsuaa()
        .sign_jwt(&dev.xsuaa().jwt_header(None), &claims, None)
        .unwrap();

    let keys = xsuaa::jwks::JwksCache::new(
        &binding.uaadomain,
        xsuaa::jwks::JwksOptions {
            extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
            ..xsuaa::jwks::JwksOptions::default()
        },
    )
    .unwrap();
    let validator = xsuaa::validate::Validator::new(
        xsuaa::validate::ValidatorConfig::from_binding(&binding),
        Arc::new(keys),
    );
    // Distinct tokens (new jti each): every validation verifies the RSA signature.
    let distinct: Vec<String> = (0..3000)
        .map(|i| {
            let mut c = claims.clone();
            c["jti"] = format!("{i:032x}").into();
            dev.xsuaa()
                .sign_jwt(&dev.xsuaa().jwt_header(None), &c, None)
                .unwrap()
        })
        .collect();
    validator.validate(&jwt).await.unwrap();
    let t = Instant::now();
    for token in &distinct {
        validator.validate(token).await.unwrap();
    }
    let ours_uncached = distinct.len() as f64 / t.elapsed().as_secs_f64();
    // The same token again and again: the signature cache skips the verification.
    let n = 50_000u32;
    let t = Instant::now();
    for _ in 0..n {
        validator.validate(&jwt).await.unwrap();
    }
    let ours_cached = f64::from(n) / t.elapsed().as_secs_f64();

    let input = serde_json::json!({
        "credentials": dev.vcap_services()["xsuaa"][0]["credentials"],
        "jwt": jwt,
        "iterations": 5000,
    });
    let mut child = tokio::process::Command::from(testkit::node_script("xssec.mjs"))
        .arg("bench")
        .env("NODE_EXTRA_CA_CERTS", dev.ca_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "xssec bench failed");
    let xssec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let uncached = xssec["uncached_per_s"].as_f64().unwrap();
    let cached = xssec["cached_per_s"].as_f64().unwrap();

    println!(
        "XSUAA token validation, one core, RS256 client-credentials tokens of the local XSUAA"
    );
    println!("  every signature verified (ours: distinct tokens; xssec: signature cache off)");
    println!("    ours (xsuaa::Validator):  {ours_uncached:>10.0} validations/s");
    println!("    @sap/xssec 4.15.0:        {uncached:>10.0} validations/s");
    println!(
        "    ratio ours / xssec:       {:>10.1}x",
        ours_uncached / uncached
    );
    println!("  the same token repeated (both with their signature caches)");
    println!("    ours (xsuaa::Validator):  {ours_cached:>10.0} validations/s");
    println!("    @sap/xssec 4.15.0:        {cached:>10.0} validations/s");
    println!(
        "    ratio ours / xssec:       {:>10.1}x",
        ours_cached / cached
    );
    dev.stop().await;
}
