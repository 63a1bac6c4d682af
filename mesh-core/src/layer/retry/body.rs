//! The request body the retry layer sends: a buffered copy it can send again, or the original
//! body streamed once when it is too large (or of unknown length) to replay.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

pin_project_lite::pin_project! {
    /// A request body as the retry layer forwards it.
    pub struct ReplayBody<B> {
        #[pin]
        inner: Inner<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = InnerProj]
    enum Inner<B> {
        Buffered {
            data: Option<Bytes>,
            trailers: Option<HeaderMap>,
        },
        Streaming {
            #[pin]
            body: B,
        },
    }
}

// === impl ReplayBody ===

impl<B> ReplayBody<B> {
    /// A buffered body (data and trailers), replayable by cloning its parts.
    pub fn buffered(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        ReplayBody {
            inner: Inner::Buffered {
                data: Some(data).filter(|d| !d.is_empty()),
                trailers,
            },
        }
    }

    /// The original body, sent once.
    pub fn streaming(body: B) -> Self {
        ReplayBody {
            inner: Inner::Streaming { body },
        }
    }

    /// Whether this is a buffered copy.
    pub fn is_buffered(&self) -> bool {
        matches!(self.inner, Inner::Buffered { .. })
    }
}

impl<B: Body<Data = Bytes>> Body for ReplayBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().inner.project() {
            InnerProj::Buffered { data, trailers } => {
                if let Some(d) = data.take() {
                    return Poll::Ready(Some(Ok(Frame::data(d))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
            InnerProj::Streaming { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Buffered { data, trailers } => data.is_none() && trailers.is_none(),
            Inner::Streaming { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Buffered { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Inner::Streaming { body } => body.size_hint(),
        }
    }
}
