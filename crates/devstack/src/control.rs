//! Running stand-ins as individually controllable services, so fault tests can stop one (its
//! port closes), make it hang (its port accepts but never answers) and start it again on the
//! same port with the same state, while the rest of the stack keeps running.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::DevError;

/// One stand-in of the dev stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// The local SAP Credential Store.
    CredStore,
    /// The local XSUAA.
    Xsuaa,
    /// The local AWS STS.
    Sts,
    /// The local S3.
    S3,
    /// The local SAP Alert Notification service.
    Alerts,
}

/// The future serving one service until its shutdown future resolves.
pub(crate) type ServeFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Starts serving a service on a listener; the second argument resolves on shutdown.
type Factory =
    Arc<dyn Fn(TcpListener, Pin<Box<dyn Future<Output = ()> + Send>>) -> ServeFuture + Send + Sync>;

struct Running {
    addr: SocketAddr,
    factory: Factory,
    /// `Some` while serving (or hanging): the shutdown switch and the task.
    task: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

/// The stack's services, by name.
#[derive(Default)]
pub(crate) struct Services {
    running: BTreeMap<Service, Running>,
}

impl Services {
    /// Starts `service` on `listener` with `factory`, remembered for restarts.
    pub(crate) fn start<F>(&mut self, service: Service, listener: TcpListener, factory: F)
    where
        F: Fn(TcpListener, Pin<Box<dyn Future<Output = ()> + Send>>) -> ServeFuture
            + Send
            + Sync
            + 'static,
    {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let factory: Factory = Arc::new(factory);
        let task = spawn(&factory, listener);
        self.running.insert(
            service,
            Running {
                addr,
                factory,
                task: Some(task),
            },
        );
    }

    /// Stops `service` and waits until its port is closed.
    pub(crate) async fn stop(&mut self, service: Service) {
        if let Some(running) = self.running.get_mut(&service)
            && let Some((stop, task)) = running.task.take()
        {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }

    /// Replaces `service` with a listener that accepts connections and never answers.
    pub(crate) async fn hang(&mut self, service: Service) -> Result<(), DevError> {
        self.stop(service).await;
        let Some(running) = self.running.get_mut(&service) else {
            return Ok(());
        };
        let listener = rebind(running.addr).await?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        if let Ok((conn, _)) = accepted {
                            held.push(conn);
                        }
                    }
                    _ = stopped.wait_for(|s| *s) => break,
                }
            }
        });
        running.task = Some((stop, task));
        Ok(())
    }

    /// Starts `service` again on its port (after [`Services::stop`] or [`Services::hang`]).
    pub(crate) async fn restart(&mut self, service: Service) -> Result<(), DevError> {
        self.stop(service).await;
        let Some(running) = self.running.get_mut(&service) else {
            return Ok(());
        };
        let listener = rebind(running.addr).await?;
        running.task = Some(spawn(&running.factory, listener));
        Ok(())
    }

    /// Stops every service and waits for all of them.
    pub(crate) async fn stop_all(mut self) {
        let services: Vec<Service> = self.running.keys().copied().collect();
        for (_, running) in self.running.iter_mut() {
            if let Some((stop, _)) = &running.task {
                let _ = stop.send(true);
            }
        }
        for service in services {
            self.stop(service).await;
        }
    }
}

fn spawn(factory: &Factory, listener: TcpListener) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let shutdown = Box::pin(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    let task = tokio::spawn(factory(listener, shutdown));
    (stop, task)
}

/// Binds `addr` again; retries briefly while the old socket is being torn down.
async fn rebind(addr: SocketAddr) -> Result<TcpListener, DevError> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(DevError::Bind {
        addr: addr.to_string(),
        source: last.unwrap_or_else(|| std::io::Error::other("bind failed")),
    })
}
