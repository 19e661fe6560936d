//! S3 calls per second through `awslink` (our AssumeRole credential cache as the SDK's
//! credentials provider) against the local S3, and STS calls per 10 000 S3 calls. The
//! baseline, in the same run, is the same SDK client with the same temporary credentials given
//! statically (no provider at all). Run with `cargo bench -p awslink --bench s3_calls`.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use awslink::{AwsLink, AwsSettings, LinkOptions, LongTermKeys};
use cfenv::Vcap;
use devstack::{DevConfig, DevStack};

const BUCKET: &str = "bridge-documents";
const CONCURRENCY: usize = 16;

async fn run_calls(s3: &aws_sdk_s3::Client, n: usize) -> f64 {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let s3 = s3.clone();
        let next = next.clone();
        tasks.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                let out = s3
                    .get_object()
                    .bucket(BUCKET)
                    .key("bench/small.txt")
                    .send()
                    .await
                    .unwrap();
                out.body.collect().await.unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    n as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevStack::start(DevConfig::new(dir.path()).ephemeral())
        .await
        .unwrap();
    let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    let settings = AwsSettings::from_vcap(&vcap, None).unwrap();
    let store = credstore::Client::from_binding(
        &vcap.credstore(None).unwrap(),
        &credstore::ClientOptions {
            extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
            ..credstore::ClientOptions::default()
        },
    )
    .unwrap();
    let keys = LongTermKeys::from_settings(Arc::new(store), &settings);
    let suffix = dev
        .private_link_host()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let options = LinkOptions {
        extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
        resolve: vec![(suffix, IpAddr::V4(Ipv4Addr::LOCALHOST))],
        ..LinkOptions::default()
    };
    let link = AwsLink::new(settings, keys, &options).unwrap();
    link.s3
        .put_object()
        .bucket(BUCKET)
        .key("bench/small.txt")
        .body(ByteStream::from(vec![b'x'; 1024]))
        .send()
        .await
        .unwrap();

    // The baseline: the same client configuration with the same temporary credentials fixed.
    let fixed = link.credentials.credentials().await.unwrap();
    let direct = aws_sdk_s3::Client::from_conf(
        link.s3
            .config()
            .to_builder()
            .credentials_provider(fixed)
            .build(),
    );

    run_calls(&direct, 300).await;
    run_calls(&link.s3, 300).await;
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        base.push(run_calls(&direct, 1000).await);
        ours.push(run_calls(&link.s3, 1000).await);
    }
    let sts_before = dev.aws_identity().assume_role_count();
    run_calls(&link.s3, 10_000).await;
    let sts_calls = dev.aws_identity().assume_role_count() - sts_before;

    let (ours, base) = (median(ours), median(base));
    println!(
        "S3 GetObject (1 KiB) on the local S3 over TLS, {CONCURRENCY} concurrent tasks, median of 5 rounds"
    );
    println!("  through awslink (RoleCredentials provider): {ours:>8.0} calls/s");
    println!("  same client, fixed temporary credentials:   {base:>8.0} calls/s");
    println!(
        "  ratio awslink / fixed:                      {:>8.2}",
        ours / base
    );
    println!("  STS AssumeRole calls during 10 000 S3 calls: {sts_calls}");
    dev.stop().await;
}
