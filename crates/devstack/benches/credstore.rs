//! Credential Store read costs, measured in one process against the local store on loopback:
//! direct reads through `credstore::Client` (HTTPS + JWE both ways) as the baseline, reads
//! through `CachedStore` (the hot path the app uses), and the JWE decryption alone. Prints
//! figures and ratios; run with `cargo bench -p devstack --bench credstore`.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cfenv::Vcap;
use credstore::jwe::{IatPolicy, PrivateKey};
use credstore::{
    CacheOptions, CachedStore, Client, ClientOptions, CredentialStore, CredentialType,
    NewCredential, WriteMode,
};
use devstack::{DevConfig, DevStack};

const PW: CredentialType = CredentialType::Password;

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevStack::start(DevConfig::new(dir.path()).ephemeral())
        .await
        .unwrap();
    let binding = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES")
        .unwrap()
        .credstore(None)
        .unwrap();
    let options = ClientOptions {
        extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
        ..ClientOptions::default()
    };
    let client = Client::from_binding(&binding, &options).unwrap();
    client
        .write(
            PW,
            "bench",
            &NewCredential::new("k", "bench-value"),
            WriteMode::Upsert,
        )
        .await
        .unwrap();
    for _ in 0..50 {
        client.read(PW, "bench", "k").await.unwrap();
    }

    let n_direct = 1_000u64;
    let t = Instant::now();
    for _ in 0..n_direct {
        client.read(PW, "bench", "k").await.unwrap();
    }
    let direct = t.elapsed();

    let cache = Arc::new(CachedStore::new(
        Client::from_binding(&binding, &options).unwrap(),
        CacheOptions::default(),
    ));
    let before = dev.credstore().read_count();
    let n_cached = 200_000u64;
    let t = Instant::now();
    for _ in 0..n_cached {
        cache.read(PW, "bench", "k").await.unwrap();
    }
    let cached = t.elapsed();
    let store_reads = dev.credstore().read_count() - before;

    // Cold cache under 16 concurrent readers: how many store calls?
    let cold = Arc::new(CachedStore::new(
        Client::from_binding(&binding, &options).unwrap(),
        CacheOptions::default(),
    ));
    let before_cold = dev.credstore().read_count();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let cold = cold.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    cold.read(PW, "bench", "k").await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let cold_reads = dev.credstore().read_count() - before_cold;

    let key = PrivateKey::generate().unwrap();
    let jwe = key
        .public_key()
        .unwrap()
        .encrypt(b"{\"name\":\"k\",\"value\":\"v\"}", 0)
        .unwrap();
    let n_jwe = 1_000u64;
    let t = Instant::now();
    for _ in 0..n_jwe {
        key.decrypt(&jwe, IatPolicy::REQUEST, 0).unwrap();
    }
    let decrypt = t.elapsed();

    println!("credstore read benchmark (one process, local store on loopback)");
    println!(
        "  direct Client::read (HTTPS + JWE): {:>12.0} reads/s  ({:.3} ms/read)",
        rate(n_direct, direct),
        direct.as_secs_f64() * 1000.0 / n_direct as f64
    );
    println!(
        "  CachedStore::read (hit):           {:>12.0} reads/s  ({:.4} µs/read)",
        rate(n_cached, cached),
        cached.as_secs_f64() * 1e6 / n_cached as f64
    );
    println!(
        "  JWE RSA-OAEP-256 decrypt alone:    {:>12.0} ops/s",
        rate(n_jwe, decrypt)
    );
    println!(
        "  ratio cached/direct: {:.0}x; store reads during {n_cached} cached reads: {store_reads}",
        rate(n_cached, cached) / rate(n_direct, direct)
    );
    println!("  cold cache, 16 tasks x 100 reads: {cold_reads} store read(s)");
    dev.stop().await;
}
