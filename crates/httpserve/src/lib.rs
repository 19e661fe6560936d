//! The one HTTP accept loop of `bridge serve`, `bridge dev` and every dev stand-in, so each
//! of them holds up against clients that connect and then dawdle.
//!
//! [`serve`] accepts on a bound listener (plain TCP or TLS, [`Transport`]) and serves HTTP/1.1
//! and HTTP/2 with hyper, under [`Limits`]:
//!
//! - **Connections**: at most [`Limits::max_connections`] at once. Beyond that the loop stops
//!   accepting until one closes, so further clients wait in the kernel's backlog instead of
//!   costing memory.
//! - **TLS handshake**: must finish within [`Limits::handshake_timeout`].
//! - **Request headers**: must arrive within [`Limits::header_read_timeout`] of the connection
//!   opening or of the previous response (hyper's `header_read_timeout`), so a client that
//!   sends headers a byte at a time (slowloris) is closed.
//! - **Idle connections**: a connection that has no request in progress and has moved no byte
//!   for [`Limits::idle_timeout`] is closed (gracefully: HTTP/2 gets a GOAWAY). hyper has no
//!   idle timeout of its own for HTTP/1 keep-alive (hyper issue #1628), hence the watchdog
//!   here, which counts requests in progress and bytes moved per connection.
//! - **Shutdown**: when the shutdown future resolves, the listener closes, every connection is
//!   asked to finish (keep-alive off, GOAWAY), and after [`Limits::shutdown_grace`] whatever is
//!   still open (a half-sent request, a stuck download) is dropped.
//!
//! Connection-level errors (resets, timeouts, TLS failures) are logged at debug: they are the
//! client's business. With [`Limits::quiet`] the connection futures run without a tracing
//! subscriber, for services (the local S3's `s3s`) that log every request at their own levels;
//! such a service logs through a dispatcher it captured itself.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::instrument::WithSubscriber as _;

/// The limits one server runs under; [`Limits::default`] suits the app and the stand-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time allowed for a request's headers, from the connection's start or the previous
    /// response.
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no request in progress and no byte moved.
    pub idle_timeout: Duration,
    /// Time allowed for a TLS handshake.
    pub handshake_timeout: Duration,
    /// Time open connections get to finish after shutdown begins; then they are dropped.
    pub shutdown_grace: Duration,
    /// Run connections without a tracing subscriber (see the module docs).
    pub quiet: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 2048,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            quiet: false,
        }
    }
}

/// How connections are spoken to.
#[derive(Clone)]
pub enum Transport {
    /// Plain HTTP (the app behind the Cloud Foundry router, which terminates TLS).
    Plain,
    /// HTTPS with this server configuration (the dev stand-ins); client certificates, when
    /// the configuration asks for them, reach the service through [`Peer::client_cert`].
    Tls(Arc<rustls::ServerConfig>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Plain => f.write_str("Plain"),
            Transport::Tls(_) => f.write_str("Tls"),
        }
    }
}

/// What [`serve`] runs per connection: a tower service for hyper's requests that answers every
/// request (errors are responses), clonable and sendable across tasks. Implemented for every
/// such service (an axum `Router` is one).
pub trait ConnectionService<B>:
    tower::Service<
        Request<Incoming>,
        Response = Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S, B> ConnectionService<B> for S where
    S: tower::Service<
            Request<Incoming>,
            Response = Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// The body of a response [`serve`] can send.
pub trait ResponseBody:
    Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + 'static
{
}

impl<B> ResponseBody for B where
    B: Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + 'static
{
}

/// Who is on the other end of a connection, for the service made for it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The DER of the first certificate the client presented, when TLS verified one.
    pub client_cert: Option<Vec<u8>>,
}

/// Serves on `listener` until `shutdown` resolves, with a service made per connection by
/// `make` (a tower service, e.g. an axum `Router`), under `limits`; returns when the last
/// connection has closed or was dropped after the grace period.
pub async fn serve<M, S, B>(
    listener: TcpListener,
    transport: Transport,
    limits: Limits,
    make: M,
    shutdown: impl Future<Output = ()> + Send,
) where
    M: Fn(&Peer) -> S + Send + Sync + 'static,
    S: ConnectionService<B>,
    B: ResponseBody,
{
    let make = Arc::new(make);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let acceptor = match &transport {
        Transport::Plain => None,
        Transport::Tls(config) => Some(tokio_rustls::TlsAcceptor::from(config.clone())),
    };
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections as we go, so the set stays as large as what is open.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let stopping = stopping.clone();
        let make = make.clone();
        let task = async move {
            let _permit = permit;
            match acceptor {
                None => {
                    let service = make(&Peer {
                        addr,
                        client_cert: None,
                    });
                    connection(tcp, service, limits, stopping).await;
                }
                Some(acceptor) => {
                    tls_connection(tcp, addr, acceptor, &*make, limits, stopping).await;
                }
            }
        };
        if limits.quiet {
            connections.spawn(task.with_subscriber(tracing::subscriber::NoSubscriber::default()));
        } else {
            connections.spawn(task);
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            connections.dropped = connections.len(),
            "connections still open after the shutdown grace period are dropped"
        );
        connections.shutdown().await;
    }
}

/// Does the TLS handshake under its deadline, then serves the connection with a service made
/// for the peer (with its verified client certificate, if any).
async fn tls_connection<M, S, B>(
    tcp: TcpStream,
    addr: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    make: &M,
    limits: Limits,
    stopping: watch::Receiver<bool>,
) where
    M: Fn(&Peer) -> S,
    S: ConnectionService<B>,
    B: ResponseBody,
{
    let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    let client_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec());
    let service = make(&Peer { addr, client_cert });
    connection(tls, service, limits, stopping).await;
}

/// Serves one connection until it closes, is idle too long, or shutdown asks it to finish.
async fn connection<I, S, B>(io: I, service: S, limits: Limits, mut stopping: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: ConnectionService<B>,
    B: ResponseBody,
{
    let activity = Arc::new(Activity::new());
    let io = Tracked {
        inner: io,
        activity: activity.clone(),
    };
    let service = Counted {
        inner: TowerToHyperService::new(service),
        activity: activity.clone(),
    };
    let mut builder = Builder::new(Executor {
        quiet: limits.quiet,
    });
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut finishing = false;
    loop {
        let idle_at = activity.idle_deadline(limits.idle_timeout);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(idle_at), if !finishing => {
                if activity.is_idle(limits.idle_timeout) {
                    conn.as_mut().graceful_shutdown();
                    finishing = true;
                }
            }
            _ = stopping.wait_for(|s| *s), if !finishing => {
                conn.as_mut().graceful_shutdown();
                finishing = true;
            }
        }
    }
}

/// Spawns hyper's HTTP/2 stream tasks, without a tracing subscriber when the connection runs
/// quiet (spawned tasks do not inherit the connection's).
#[derive(Debug, Clone, Copy)]
struct Executor {
    quiet: bool,
}

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        if self.quiet {
            TokioExecutor::new()
                .execute(fut.with_subscriber(tracing::subscriber::NoSubscriber::default()));
        } else {
            TokioExecutor::new().execute(fut);
        }
    }
}

/// What the idle watchdog knows about a connection: requests in progress, and when a byte
/// last moved (milliseconds since `epoch`).
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_deadline(&self, idle: Duration) -> Instant {
        self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && Instant::now() >= self.idle_deadline(idle)
    }
}

/// The connection's byte stream, noting every read and write in its [`Activity`].
struct Tracked<I> {
    inner: I,
    activity: Arc<Activity>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The service, counting requests in progress (from the call until the response head is
/// ready; a streaming body then shows up as written bytes).
#[derive(Clone)]
struct Counted<H> {
    inner: H,
    activity: Arc<Activity>,
}

/// Decrements the in-progress count when the response future ends, however it ends.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

impl<H, R> hyper::service::Service<R> for Counted<H>
where
    H: hyper::service::Service<R>,
    H::Future: Send + 'static,
{
    type Response = H::Response;
    type Error = H::Error;
    type Future = Pin<Box<dyn Future<Output = Result<H::Response, H::Error>> + Send>>;

    fn call(&self, req: R) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(self.activity.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            drop(guard);
            out
        })
    }
}
