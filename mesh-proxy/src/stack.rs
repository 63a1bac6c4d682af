//! A tiny stack builder: wraps a service, pushes layers in order (innermost first), and boxes
//! at the seam so each direction compiles to one `BoxCloneSyncService` type.

use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service};

use crate::body::{Body, BoxError};

/// The boxed HTTP service every stack ends as.
pub type HttpService = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// A service being assembled.
#[derive(Clone, Debug)]
pub struct Stack<S>(S);

// === impl Stack ===

impl<S> Stack<S> {
    /// Starts from the innermost service.
    pub const fn new(inner: S) -> Self {
        Stack(inner)
    }

    /// Wraps the stack in `layer`.
    pub fn push<L: Layer<S>>(self, layer: L) -> Stack<L::Service> {
        Stack(layer.layer(self.0))
    }

    /// The assembled service.
    pub fn into_inner(self) -> S {
        self.0
    }

    /// Boxes the stack into an [`HttpService`].
    pub fn boxed(self) -> HttpService
    where
        S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let map: fn(S::Error) -> BoxError = |e| e.into();
        BoxCloneSyncService::new(tower::util::MapErrLayer::new(map).layer(self.0))
    }
}
