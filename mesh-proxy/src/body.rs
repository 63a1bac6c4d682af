//! The one body type that crosses the proxy's stacks: any `http_body::Body` of `Bytes`, boxed,
//! and buildable from `Bytes` (the policy layers answer locally with `From<Bytes>`).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;

/// Errors crossing tower seams.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed HTTP body of `Bytes`.
#[derive(Debug)]
pub struct Body {
    inner: UnsyncBoxBody<Bytes, BoxError>,
}

// === impl Body ===

impl Body {
    /// Boxes any body.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body {
            inner: body.map_err(Into::into).boxed_unsync(),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Body::from(Bytes::new())
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::new(http_body_util::Full::new(bytes))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
