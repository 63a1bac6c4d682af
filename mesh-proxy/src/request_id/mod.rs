//! Step: `x-request-id`, on both directions, as Envoy does it inside the mesh: a request that
//! arrives without one gets a fresh UUID v4; one that carries an id keeps it; the id goes to
//! the upstream (not back to the client: Envoy's `always_set_request_id_in_response` is off by
//! default).
//!
//! Trace context (`traceparent`, `tracestate`, `x-b3-*`, `b3`) is not touched anywhere in the
//! proxy: like a Linkerd proxy without a span sink, mesh-proxy never starts or rewrites traces,
//! and these are end-to-end headers, so hop-by-hop stripping leaves them alone. Applications
//! copy them from inbound to outbound requests.

use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName, HeaderValue, Request};
use mesh_core::layer::retry::SharedRng;
use rand::Rng;
use tower::Service;

use crate::body::Body;
use crate::stack::Stack;

/// The request id header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Draws request ids from a seeded RNG shared by every clone.
#[derive(Clone, Debug)]
pub struct RequestIds(SharedRng);

// === impl RequestIds ===

impl RequestIds {
    /// Seeded from the process's hash-map keys (OS entropy read once by std).
    pub fn from_entropy() -> Self {
        RequestIds(SharedRng::from_entropy())
    }

    /// A reproducible sequence of ids (tests).
    pub fn seed_from_u64(seed: u64) -> Self {
        RequestIds(SharedRng::seed_from_u64(seed))
    }

    /// A fresh id.
    pub fn next_id(&self) -> String {
        self.0.with(uuid_v4)
    }

    /// A fresh id as a header value.
    fn next_value(&self) -> HeaderValue {
        let id = self.0.with(uuid_v4_bytes);
        // A UUID is always a valid header value.
        HeaderValue::from_bytes(&id).unwrap_or(HeaderValue::from_static("-"))
    }

    /// Sets `x-request-id` when it is absent (or empty); an id already there is kept.
    pub fn ensure(&self, headers: &mut HeaderMap) {
        let present = headers
            .get(&X_REQUEST_ID)
            .is_some_and(|v| !v.as_bytes().is_empty());
        if !present {
            headers.insert(X_REQUEST_ID, self.next_value());
        }
    }
}

/// A random (version 4, RFC 4122 variant) UUID in its lowercase hyphenated form.
pub fn uuid_v4(rng: &mut impl Rng) -> String {
    uuid_v4_bytes(rng).iter().map(|&b| char::from(b)).collect()
}

/// [`uuid_v4`] as ASCII bytes, written without allocating.
pub fn uuid_v4_bytes(rng: &mut impl Rng) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hi = rng.next_u64();
    let lo = rng.next_u64();
    let hi = (hi & !0xF000) | 0x4000; // version 4
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // variant 10xx
    let v = (u128::from(hi) << 64) | u128::from(lo);
    let mut out = [b'-'; 36];
    let mut nibble = 0;
    for (i, slot) in out.iter_mut().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        *slot = HEX[((v >> (124 - 4 * nibble)) & 0xF) as usize];
        nibble += 1;
    }
    out
}

/// A service that gives every request an `x-request-id` before it goes further. Its future is
/// the inner service's: the step costs no allocation of its own.
#[derive(Clone, Debug)]
pub struct RequestId<S> {
    inner: S,
    ids: RequestIds,
}

impl<S: Service<Request<Body>>> Service<Request<Body>> for RequestId<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> S::Future {
        self.ids.ensure(req.headers_mut());
        self.inner.call(req)
    }
}

impl<S> Stack<S> {
    /// Gives every request an `x-request-id` before it goes further.
    pub fn push_request_id(self, ids: RequestIds) -> Stack<RequestId<S>> {
        Stack::new(RequestId {
            inner: self.into_inner(),
            ids,
        })
    }
}

#[cfg(test)]
mod tests;
