//! `AuthzLayer`: judges every request with the workload's AuthorizationPolicies (semantics.md
//! §6) and answers 403 `RBAC: access denied` when denied, as Istio does. The connection facts
//! (peer identity, addresses, port, SNI) come from a [`ConnectionFacts`] request extension set
//! by the listener; a request without one is judged as plaintext from an unknown address, which
//! fails closed. A validated JWT comes from a [`RequestAuth`] extension.
//!
//! Put it after [`NormalizeLayer`](crate::layer::normalize::NormalizeLayer): it judges the
//! request URI's path as it is, and forwards the request untouched, so the judged path is the
//! forwarded path.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::security::authz::{
    AuthzRequest, CustomAuthorizer, HttpAttributes, NoCustomProvider, Verdict, WorkloadAuthz,
};
use crate::security::conn::{ConnectionFacts, RequestAuth};

/// The body Istio sends with a denial.
pub const DENIED_BODY: &str = "RBAC: access denied";

/// Authorizes requests against one workload's policies.
#[derive(Debug)]
pub struct AuthzLayer<C = NoCustomProvider> {
    policies: Arc<WorkloadAuthz>,
    custom: Arc<C>,
}

/// The service built by [`AuthzLayer`].
#[derive(Debug)]
pub struct Authz<S, C = NoCustomProvider> {
    inner: S,
    policies: Arc<WorkloadAuthz>,
    custom: Arc<C>,
}

/// Put in a denied response's extensions: why, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied(pub String);

/// Put in an allowed request's extensions when AUDIT or dry-run rules matched: the rules, in
/// words (`AUDIT policy ns/name rules[0]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditMarks(pub Vec<String>);

pin_project! {
    /// Response future of [`Authz`]: the inner call, or an immediate 403.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = AuthzProj]
    enum State<F, B> {
        /// Allowed.
        Inner {
            #[pin]
            fut: F,
        },
        /// Denied.
        Denied {
            response: Option<Response<B>>,
        },
    }
}

// === impl AuthzLayer ===

impl AuthzLayer {
    /// A layer over `policies`, with no CUSTOM provider (CUSTOM rules deny).
    pub fn new(policies: Arc<WorkloadAuthz>) -> Self {
        AuthzLayer {
            policies,
            custom: Arc::new(NoCustomProvider),
        }
    }
}

impl<C> AuthzLayer<C> {
    /// The same layer asking `custom` for CUSTOM policies.
    pub fn with_custom<C2>(self, custom: Arc<C2>) -> AuthzLayer<C2> {
        AuthzLayer {
            policies: self.policies,
            custom,
        }
    }
}

impl<C> Clone for AuthzLayer<C> {
    fn clone(&self) -> Self {
        AuthzLayer {
            policies: self.policies.clone(),
            custom: self.custom.clone(),
        }
    }
}

impl<S, C> Layer<S> for AuthzLayer<C> {
    type Service = Authz<S, C>;

    fn layer(&self, inner: S) -> Authz<S, C> {
        Authz {
            inner,
            policies: self.policies.clone(),
            custom: self.custom.clone(),
        }
    }
}

// === impl Authz ===

impl<S: Clone, C> Clone for Authz<S, C> {
    fn clone(&self) -> Self {
        Authz {
            inner: self.inner.clone(),
            policies: self.policies.clone(),
            custom: self.custom.clone(),
        }
    }
}

impl<S, C, ReqB, ResB> Service<Request<ReqB>> for Authz<S, C>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    C: CustomAuthorizer,
    ResB: From<Bytes>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let (allowed, marks) = {
            let verdict = judge(&self.policies, &*self.custom, &req);
            let marks: Vec<String> = verdict
                .audit
                .iter()
                .chain(&verdict.dry_run)
                .map(ToString::to_string)
                .collect();
            if verdict.is_allowed() {
                (Ok(()), marks)
            } else {
                (Err(Denied(verdict.reason.to_string())), marks)
            }
        };
        if !marks.is_empty() {
            req.extensions_mut().insert(AuditMarks(marks));
        }
        match allowed {
            Ok(()) => ResponseFuture {
                state: State::Inner {
                    fut: self.inner.call(req),
                },
            },
            Err(denied) => ResponseFuture {
                state: State::Denied {
                    response: Some(forbidden(denied)),
                },
            },
        }
    }
}

/// Judges one HTTP request: its URI path (query ignored), method, authority (the URI's, else
/// `Host`, RFC 9112 §3.2.2) and headers, with the connection facts from its extensions.
pub fn judge<'p, B>(
    policies: &'p WorkloadAuthz,
    custom: &dyn CustomAuthorizer,
    req: &Request<B>,
) -> Verdict<'p> {
    static PLAINTEXT: ConnectionFacts = ConnectionFacts {
        peer: None,
        source_ip: None,
        remote_ip: None,
        destination_ip: None,
        destination_port: 0,
        sni: None,
    };
    let conn = req
        .extensions()
        .get::<ConnectionFacts>()
        .unwrap_or(&PLAINTEXT);
    let authority = match req.uri().authority() {
        Some(a) => a.as_str(),
        None => req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or(""),
    };
    let ar = AuthzRequest {
        conn,
        http: Some(HttpAttributes {
            method: req.method().as_str(),
            authority,
            path: req.uri().path(),
            headers: req.headers(),
            auth: req.extensions().get::<RequestAuth>(),
        }),
    };
    policies.evaluate(&ar, custom)
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            AuthzProj::Inner { fut } => fut.poll(cx),
            AuthzProj::Denied { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

fn forbidden<B: From<Bytes>>(why: Denied) -> Response<B> {
    let mut res = Response::new(B::from(Bytes::from_static(DENIED_BODY.as_bytes())));
    *res.status_mut() = StatusCode::FORBIDDEN;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    res.extensions_mut().insert(why);
    res
}

#[cfg(test)]
mod tests;
