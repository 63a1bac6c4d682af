//! [`PermitBody`]: a response body that keeps its request counted until the stream ends.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::gate::Slot;
use crate::resilience::pool::Permit;

/// What an admitted request holds while it runs: its `http2MaxRequests` slot and, on an
/// HTTP/1 cluster, the connection it occupies. Both are released when it is dropped.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) _request: Permit,
    pub(super) _connection: Option<Slot>,
}

pin_project! {
    /// A response body that keeps its request counted against `http2MaxRequests` (and, on an
    /// HTTP/1 cluster, its connection busy) until the stream ends.
    #[derive(Debug)]
    pub struct PermitBody<B> {
        #[pin]
        inner: B,
        held: Option<Held>,
    }
}

impl<B> PermitBody<B> {
    /// A body that holds no permit.
    pub fn new(inner: B) -> Self {
        PermitBody { inner, held: None }
    }

    pub(super) fn holding(inner: B, held: Option<Held>) -> Self {
        PermitBody { inner, held }
    }

    /// The wrapped body (releases the permit).
    pub fn into_inner(self) -> B {
        self.inner
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// Whether the request is still counted as active.
    pub fn holds_permit(&self) -> bool {
        self.held.is_some()
    }
}

impl<B: Default> Default for PermitBody<B> {
    fn default() -> Self {
        PermitBody::new(B::default())
    }
}

impl<B: Body> Body for PermitBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            drop(this.held.take());
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
