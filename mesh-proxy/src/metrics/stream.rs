//! Body sizes measured as the bodies stream, so a chunked body of unknown length is counted
//! too: the request body adds its bytes to a shared count as the proxy reads it; the response
//! body counts its own and records both size histograms once, when it ends, fails or is
//! dropped (Envoy records `istio_request_bytes`/`istio_response_bytes` at stream end as well).
//! A request body the proxy never read (a local answer such as a 403) counts what was read:
//! usually 0.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::Series;

pin_project_lite::pin_project! {
    /// A request body that adds every data byte it yields to a shared count.
    #[derive(Debug)]
    pub struct RequestCount<B> {
        #[pin]
        inner: B,
        count: Arc<AtomicU64>,
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts its bytes and records both size histograms once.
    #[derive(Debug)]
    pub struct ResponseCount<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
    }
}

/// Records the sizes of one exchange when dropped.
#[derive(Debug)]
struct Recorder {
    series: Arc<Series>,
    request: Arc<AtomicU64>,
    response: u64,
}

// === impl RequestCount ===

impl<B> RequestCount<B> {
    /// Counts `inner`'s bytes into `count`.
    pub fn new(inner: B, count: Arc<AtomicU64>) -> Self {
        RequestCount { inner, count }
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for RequestCount<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(f)) = &frame
            && let Some(data) = f.data_ref()
        {
            this.count.fetch_add(data.len() as u64, Ordering::Relaxed);
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

// === impl ResponseCount ===

impl<B: http_body::Body> ResponseCount<B> {
    /// Counts `inner`'s bytes; records them in `series` with the request's `request` count
    /// when the body ends. A body already at its end records at once.
    pub fn new(inner: B, series: Arc<Series>, request: Arc<AtomicU64>) -> Self {
        let recorder = Recorder {
            series,
            request,
            response: 0,
        };
        // An empty body may never be polled: record now.
        let recorder = (!inner.is_end_stream()).then_some(recorder);
        ResponseCount { inner, recorder }
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for ResponseCount<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let (Some(data), Some(r)) = (f.data_ref(), this.recorder.as_mut()) {
                    r.response += data.len() as u64;
                }
                // Servers stop polling once the body says it has ended.
                if this.inner.is_end_stream() {
                    this.recorder.take();
                }
            }
            // The end, or an error: record what streamed.
            None | Some(Err(_)) => {
                this.recorder.take();
            }
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

// === impl Recorder ===

impl Drop for Recorder {
    fn drop(&mut self) {
        let request = self.request.load(Ordering::Relaxed);
        self.series.bytes(request, self.response);
    }
}
