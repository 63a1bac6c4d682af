//! The one body type that crosses the proxy's stacks: any `http_body::Body` of `Bytes`, boxed,
//! and buildable from `Bytes` (the policy layers answer locally with `From<Bytes>`); and the
//! request body size limit ([`BodyLimit`]).

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

/// The request body limit of a listener ([`Limits::max_request_body`]), carried to the
/// forwarding step as a request extension.
///
/// [`Limits::max_request_body`]: crate::inbound::accept::Limits::max_request_body
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimit(pub u64);

/// A request body grew past the limit while streaming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request body exceeds the limit of {limit} bytes")]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: u64,
}

pin_project_lite::pin_project! {
    /// A body that fails with [`BodyTooLarge`] once more than `limit` bytes streamed.
    #[derive(Debug)]
    pub struct Limited<B> {
        #[pin]
        inner: B,
        limit: u64,
        seen: u64,
    }
}

// === impl BodyLimit ===

impl BodyLimit {
    /// Applies the limit to `req`: a declared `Content-Length` over it is refused before
    /// anything is forwarded (`Err`; answer it with [`payload_too_large`]); otherwise the body is wrapped so that it
    /// fails mid-stream once it exceeds the limit (a chunked body), which aborts the upstream
    /// request.
    pub fn apply(self, req: http::Request<Body>) -> Result<http::Request<Body>, BodyTooLarge> {
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .or_else(|| http_body::Body::size_hint(req.body()).exact());
        if declared.is_some_and(|n| n > self.0) {
            return Err(BodyTooLarge { limit: self.0 });
        }
        Ok(req.map(|inner| {
            Body::new(Limited {
                inner,
                limit: self.0,
                seen: 0,
            })
        }))
    }
}

/// Envoy's local reply for a request body over the limit.
pub fn payload_too_large() -> http::Response<Body> {
    let mut rsp = http::Response::new(Body::from("Payload Too Large"));
    *rsp.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
    rsp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    rsp
}

/// Whether `e` or one of its sources is [`BodyTooLarge`].
pub fn is_body_too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTooLarge>() {
            return true;
        }
        cur = err.source();
    }
    false
}

// === impl Limited ===

impl<B> http_body::Body for Limited<B>
where
    B: http_body::Body<Data = Bytes, Error = BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.seen > *this.limit {
            return Poll::Ready(None);
        }
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        if let Some(Ok(f)) = &frame
            && let Some(data) = f.data_ref()
        {
            *this.seen += data.len() as u64;
            if *this.seen > *this.limit {
                return Poll::Ready(Some(Err(BodyTooLarge { limit: *this.limit }.into())));
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

#[cfg(test)]
mod tests;
