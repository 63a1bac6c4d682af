//! The accept loop every listener shares: accept until shutdown, cap the open connections, and
//! serve each accepted one on its own task.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Accepts connections until `shutdown` resolves, with at most `max_connections` open at once.
/// A connection over the cap is closed at once and reported to `over_limit`; every other one is
/// served by the future `serve` returns, on its own task, holding its slot until it ends.
pub async fn accept_loop<S, F>(
    listener: TcpListener,
    side: &'static str,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
    over_limit: impl Fn(),
    serve: S,
) where
    S: Fn(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_connections));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, side, "accept failed");
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            over_limit();
            drop(stream);
            continue;
        };
        let connection = serve(stream, peer);
        tokio::spawn(async move {
            connection.await;
            drop(slot);
        });
    }
}
