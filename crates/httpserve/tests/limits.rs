//! The limits over real sockets: slow and silent clients are closed, idle keep-alive
//! connections end, requests in progress are not cut, the connection limit holds further
//! clients back, and shutdown drops what does not finish within its grace period.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use httpserve::{Limits, Transport, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

struct Server {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(limits: Limits) -> Self {
        let router = Router::new().route("/", get(|| async { "ok" })).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "slow"
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            Transport::Plain,
            limits,
            move |_| router.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Begins shutdown; returns how long `serve` took to return.
    async fn shut_down(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
        started.elapsed()
    }
}

fn limits() -> Limits {
    Limits {
        max_connections: 64,
        header_read_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(600),
        handshake_timeout: Duration::from_millis(400),
        shutdown_grace: Duration::from_millis(400),
        quiet: false,
    }
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn until_closed(conn: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(started + within, conn.read(&mut buf)).await {
            Err(_) => panic!("still open after {within:?}; got {out:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

async fn request(conn: &mut TcpStream, path: &str) -> String {
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn headers_that_never_finish_are_closed() {
    let s = Server::start(limits()).await;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    let (_, took) = until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(
        took < Duration::from_secs(3),
        "slow headers closed: {took:?}"
    );
    let (_, took) = until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(
        took < Duration::from_secs(3),
        "silent client closed: {took:?}"
    );
    s.shut_down().await;
}

#[tokio::test]
async fn a_byte_at_a_time_does_not_keep_headers_open() {
    let s = Server::start(limits()).await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    let started = Instant::now();
    let line =
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for b in line {
        if conn.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    if !closed {
        let (_, _) = until_closed(&mut conn, Duration::from_secs(3)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed while trickling: {:?}",
        started.elapsed()
    );
    s.shut_down().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_end_but_requests_in_progress_do_not() {
    let s = Server::start(limits()).await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    let first = request(&mut conn, "/").await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let (_, took) = until_closed(&mut conn, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "idle closed: {took:?}");

    // A handler that takes longer than the idle timeout still answers.
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    let slow = request(&mut conn, "/slow").await;
    assert!(slow.starts_with("HTTP/1.1 200"), "{slow}");
    assert!(slow.ends_with("slow"), "{slow}");
    s.shut_down().await;
}

#[tokio::test]
async fn the_connection_limit_holds_further_clients_back() {
    let s = Server::start(Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(10),
        ..limits()
    })
    .await;
    let mut a = TcpStream::connect(s.addr).await.unwrap();
    let _b = TcpStream::connect(s.addr).await.unwrap();
    assert!(request(&mut a, "/").await.starts_with("HTTP/1.1 200"));
    // The third connects (the kernel's backlog) but is not served while two are open.
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), c.read(&mut buf))
            .await
            .is_err(),
        "served beyond the limit"
    );
    drop(a);
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s.shut_down().await;
}

#[tokio::test]
async fn shutdown_drops_a_half_sent_request_after_the_grace_period() {
    let s = Server::start(Limits {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut half = TcpStream::connect(s.addr).await.unwrap();
    half.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let took = s.shut_down().await;
    assert!(took < Duration::from_secs(3), "stopped in {took:?}");
    let (_, _) = until_closed(&mut half, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn shutdown_lets_a_request_in_progress_finish() {
    let s = Server::start(Limits {
        shutdown_grace: Duration::from_secs(5),
        ..limits()
    })
    .await;
    let addr = s.addr;
    let slow = tokio::spawn(async move {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        request(&mut conn, "/slow").await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = s.shut_down().await;
    let answer = slow.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    // And the listener is closed.
    assert!(TcpStream::connect(addr).await.is_err());
}
