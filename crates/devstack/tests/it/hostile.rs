//! Every stand-in against hostile clients (issue 12): made-up methods and paths get a client
//! error, never a 5xx; clients that never finish the TLS handshake or their headers are
//! closed; a half-sent request does not keep the stack from stopping.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::common::Stack;

fn short_limits() -> httpserve::Limits {
    httpserve::Limits {
        header_read_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(600),
        handshake_timeout: Duration::from_millis(400),
        shutdown_grace: Duration::from_millis(400),
        ..devstack::tls::server_limits()
    }
}

/// `host:port` of every stand-in.
fn addrs(s: &Stack) -> Vec<(&'static str, String)> {
    let authority = |url: &str| {
        url::Url::parse(url)
            .map(|u| format!("{}:{}", u.host_str().unwrap(), u.port().unwrap()))
            .unwrap()
    };
    vec![
        ("credstore", authority(s.dev.credstore_url())),
        ("xsuaa", authority(s.dev.xsuaa_url())),
        ("sts", authority(s.dev.sts_url())),
        ("s3", authority(s.dev.s3_url())),
    ]
}

/// A TLS connection to `addr` that trusts the dev CA.
async fn tls(s: &Stack, addr: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(s.dev.ca_pem().as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap()
}

/// Waits until the peer closes `conn`; panics after `within`.
async fn closed<C: tokio::io::AsyncRead + Unpin>(conn: &mut C, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(started + within, conn.read(&mut buf)).await {
            Err(_) => panic!("still open after {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn made_up_methods_and_paths_are_client_errors_everywhere() {
    let s = Stack::start().await;
    let http = s.http();
    for (name, addr) in addrs(&s) {
        for i in 0..50 {
            let method = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
            for (m, path) in [
                (method, "/".to_owned()),
                (reqwest::Method::GET, format!("/no/such/{i}/%00%ff")),
                (reqwest::Method::DELETE, format!("/{}", "x".repeat(i * 40))),
            ] {
                let r = http
                    .request(m.clone(), format!("https://{addr}{path}"))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                assert!(
                    (400..500).contains(&status),
                    "{name}: {m} {path} answered {status}"
                );
            }
        }
    }
    s.dev.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_slow_clients_are_closed_by_every_stand_in() {
    let dir = tempfile::tempdir().unwrap();
    let s = Stack::start_with(dir, |c| c.limits = short_limits()).await;
    for (name, addr) in addrs(&s) {
        // No TLS handshake at all.
        let mut silent = TcpStream::connect(&addr).await.unwrap();
        let took = closed(&mut silent, Duration::from_secs(5)).await;
        assert!(took < Duration::from_secs(3), "{name}: handshake {took:?}");
        // A handshake, then headers that never end.
        let mut slow = tls(&s, &addr).await;
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        let took = closed(&mut slow, Duration::from_secs(5)).await;
        assert!(took < Duration::from_secs(3), "{name}: headers {took:?}");
    }
    s.dev.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_sent_request_does_not_keep_the_stack_from_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let s = Stack::start_with(dir, |c| {
        c.limits = httpserve::Limits {
            header_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            ..short_limits()
        }
    })
    .await;
    let mut held = Vec::new();
    for (_, addr) in addrs(&s) {
        let mut c = tls(&s, &addr).await;
        c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nabc")
            .await
            .unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    s.dev.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopping took {:?}",
        started.elapsed()
    );
}
