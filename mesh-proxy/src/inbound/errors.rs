//! Step: errors become responses the way Envoy answers them. An unreachable application is
//! 503 with flag `UF`; an mTLS policy refusal stays an error, so hyper closes the connection
//! (Istio refuses such connections, it does not answer them).

use std::future::Future;
use std::pin::Pin;

use http::{Request, Response, StatusCode, header};
use mesh_core::layer::mtls::MtlsError;
use tower::{Service, ServiceExt};

use super::UpstreamError;
use crate::body::{Body, BoxError};
use crate::stack::{HttpService, Stack};

/// Envoy response flags of a locally generated response, as a response extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseFlags(pub &'static str);

/// What an error turns into.
fn to_response(e: BoxError) -> Result<Response<Body>, BoxError> {
    if e.downcast_ref::<MtlsError>().is_some() {
        return Err(e);
    }
    let (status, flags, body) = if e.downcast_ref::<UpstreamError>().is_some() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "UF",
            "upstream connect error or disconnect/reset before headers",
        )
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "-",
            "internal proxy error",
        )
    };
    tracing::debug!(error = %e, %status, "answering locally");
    let mut rsp = Response::new(Body::from(body));
    *rsp.status_mut() = status;
    rsp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    rsp.extensions_mut().insert(ResponseFlags(flags));
    Ok(rsp)
}

impl<S> Stack<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    /// Turns upstream errors into 503 `UF`; policy refusals stay errors.
    pub fn push_errors(self) -> Stack<HttpService> {
        let inner = self.boxed();
        let svc = tower::service_fn(move |req: Request<Body>| {
            let inner = inner.clone();
            let fut: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
                match inner.oneshot(req).await {
                    Ok(rsp) => Ok(rsp),
                    Err(e) => to_response(e),
                }
            });
            fut
        });
        Stack::new(tower::util::BoxCloneSyncService::new(svc))
    }
}
