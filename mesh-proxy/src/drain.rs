//! Graceful drain across every connection: a signal each connection watches, and a count of
//! the connections still open that the controller waits on. (hyper-util's `GracefulShutdown`
//! only watches connection types it knows, which would leave no room for our own per-connection
//! timers.)

use tokio::sync::{mpsc, watch};

/// Held by each connection: tells it to drain, and keeps the controller waiting while it lives.
#[derive(Clone, Debug)]
pub struct Drain {
    signal: watch::Receiver<bool>,
    _open: mpsc::Sender<()>,
}

/// Starts the drain and waits for every [`Drain`] to be dropped.
#[derive(Debug)]
pub struct DrainController {
    signal: watch::Sender<bool>,
    open_tx: mpsc::Sender<()>,
    open_rx: mpsc::Receiver<()>,
}

// === impl DrainController ===

impl DrainController {
    /// A controller with no connections.
    pub fn new() -> Self {
        let (signal, _) = watch::channel(false);
        let (open_tx, open_rx) = mpsc::channel(1);
        DrainController {
            signal,
            open_tx,
            open_rx,
        }
    }

    /// A handle for one more connection.
    pub fn watcher(&self) -> Drain {
        Drain {
            signal: self.signal.subscribe(),
            _open: self.open_tx.clone(),
        }
    }

    /// Signals every connection and waits until all have closed.
    pub async fn drain(self) {
        let DrainController {
            signal,
            open_tx,
            mut open_rx,
        } = self;
        let _ = signal.send(true);
        drop(open_tx);
        // `None` once every sender (one per open connection) is gone; nothing is ever sent.
        let _ = open_rx.recv().await;
    }
}

impl Default for DrainController {
    fn default() -> Self {
        Self::new()
    }
}

// === impl Drain ===

impl Drain {
    /// Resolves once draining has started.
    pub async fn signaled(&mut self) {
        let _ = self.signal.wait_for(|draining| *draining).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_signals_and_waits_for_every_connection() {
        let ctl = DrainController::new();
        let mut a = ctl.watcher();
        let b = ctl.watcher();
        let drained = tokio::spawn(ctl.drain());
        a.signaled().await;
        drop(b);
        // `a` is still open: the drain cannot have finished.
        tokio::task::yield_now().await;
        assert!(!drained.is_finished());
        drop(a);
        drained.await.unwrap();
    }

    #[tokio::test]
    async fn a_drain_with_no_connections_finishes_at_once() {
        DrainController::default().drain().await;
    }
}
