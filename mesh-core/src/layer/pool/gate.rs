//! The connection gate of an HTTP/1 cluster: `maxConnections` connection slots handed out in
//! FIFO order. A request that finds every connection busy waits for the next one to free up;
//! the circuit breaker counts it as pending meanwhile (the counting stays in the engine, the
//! queue and its wake-ups are a tokio semaphore).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::resilience::pool::{CircuitBreaker, ConnectionPermit, Limit, Overflow};

type AcquireFuture =
    Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send + Sync>>;

/// The connection slots of one cluster. Clones share them.
#[derive(Clone, Debug)]
pub(super) struct Gate {
    slots: Arc<Semaphore>,
}

/// One busy connection: released (and handed to the longest waiter) when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    // Fields drop in order: the breaker's count goes down before the slot is handed on, so
    // the next holder always finds room in the count.
    _connection: ConnectionPermit,
    _slot: OwnedSemaphorePermit,
}

/// A place in the queue for a connection slot.
pub(super) struct Waiter {
    acquire: AcquireFuture,
}

/// The gate was closed (never happens: the gate is never closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the connection gate was closed")]
pub struct GateClosed;

// === impl Gate ===

impl Gate {
    /// `max` connection slots (`maxConnections`).
    pub(super) fn new(max: u32) -> Self {
        let max =
            usize::try_from(max).map_or(Semaphore::MAX_PERMITS, |m| m.min(Semaphore::MAX_PERMITS));
        Gate {
            slots: Arc::new(Semaphore::new(max)),
        }
    }

    /// A free connection now, if one is free and nobody waits for one (the queue is FIFO).
    /// `Err` counts a connection overflow: the caller must queue.
    pub(super) fn try_slot(&self, breaker: &CircuitBreaker) -> Result<Slot, Overflow> {
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => slot(breaker, permit),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => {
                Err(breaker.record_overflow(Limit::Connections))
            }
        }
    }

    /// Joins the queue for the next free connection.
    pub(super) fn wait(&self) -> Waiter {
        Waiter {
            acquire: Box::pin(Arc::clone(&self.slots).acquire_owned()),
        }
    }
}

// === impl Waiter ===

impl Waiter {
    /// Polls for this waiter's turn.
    pub(super) fn poll_slot(
        &mut self,
        cx: &mut Context<'_>,
        breaker: &CircuitBreaker,
    ) -> Poll<Result<Result<Slot, Overflow>, GateClosed>> {
        match self.acquire.as_mut().poll(cx) {
            Poll::Ready(Ok(permit)) => Poll::Ready(Ok(slot(breaker, permit))),
            Poll::Ready(Err(_)) => Poll::Ready(Err(GateClosed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}

/// Counts the slot in the breaker. The gate has as many slots as `maxConnections`, so the
/// count has room unless something else holds connections of this breaker.
fn slot(breaker: &CircuitBreaker, permit: OwnedSemaphorePermit) -> Result<Slot, Overflow> {
    Ok(Slot {
        _connection: breaker.try_acquire_connection()?,
        _slot: permit,
    })
}
