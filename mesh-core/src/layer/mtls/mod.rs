//! Inbound mTLS policy check (semantics §7.1): with the workload's composed PeerAuthentication,
//! a request whose connection is plaintext on a STRICT port (or mTLS on a DISABLE port) never
//! reaches the service. The TLS acceptor states what the connection was by inserting
//! [`ConnectionFacts`] into each request's extensions; a request without it fails closed.
//!
//! In Istio the STRICT check happens at connection level (no filter chain matches); the
//! acceptor should refuse such connections outright with [`WorkloadMtls::decide`]. This layer is
//! the per-request guard that keeps the decision true for every request on the connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::resilience::ErrorOrigin;
use crate::security::conn::ConnectionFacts;
use crate::security::identity::{SpiffeId, TrustDomains};
use crate::security::peer_authn::{MtlsMode, Transport, WorkloadMtls};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why the layer refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MtlsError {
    /// The request carries no [`ConnectionFacts`]: the proxy was assembled without a TLS
    /// acceptor in front, so nothing is known and nothing is let through.
    #[error("no connection facts on the request: mTLS policy cannot be checked (fail closed)")]
    MissingConnectionFacts,
    /// The peer's trust domain is neither the local one nor an alias (ztunnel
    /// `trust_domain_mismatch_rejected`).
    #[error("peer {peer} is from untrusted trust domain {trust_domain:?}")]
    UntrustedPeer {
        /// The peer principal.
        peer: String,
        /// Its trust domain.
        trust_domain: String,
    },
    /// The port's mode does not accept this kind of connection.
    #[error("{transport} connection refused on port {port} (PeerAuthentication {mode})")]
    Refused {
        /// The port.
        port: u16,
        /// The mode in force.
        mode: MtlsMode,
        /// How the connection arrived.
        transport: Transport,
    },
}

/// Layer config: the composed policy of the workload this proxy serves.
#[derive(Clone, Debug)]
pub struct MtlsLayer {
    policy: Arc<WorkloadMtls>,
    trust: Option<Arc<TrustDomains>>,
}

/// The service.
#[derive(Clone, Debug)]
pub struct Mtls<S> {
    inner: S,
    policy: Arc<WorkloadMtls>,
    trust: Option<Arc<TrustDomains>>,
}

pin_project! {
    /// Response future of [`Mtls`].
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Called { #[pin] fut: F },
        Refused { error: Option<MtlsError> },
    }
}

// === impl MtlsError ===

impl MtlsError {
    /// Where the error comes from: the client for a refused connection, this proxy's own
    /// assembly for missing facts.
    pub const fn origin(&self) -> ErrorOrigin {
        match self {
            MtlsError::MissingConnectionFacts => ErrorOrigin::Local,
            MtlsError::Refused { .. } | MtlsError::UntrustedPeer { .. } => ErrorOrigin::Downstream,
        }
    }

    /// Never: the same connection would be refused again.
    pub const fn is_retryable(&self) -> bool {
        false
    }
}

// === impl MtlsLayer ===

impl MtlsLayer {
    /// A layer enforcing `policy` (peer trust domains are left to the TLS verifier).
    pub const fn new(policy: Arc<WorkloadMtls>) -> Self {
        MtlsLayer {
            policy,
            trust: None,
        }
    }

    /// Also refuses mTLS peers whose trust domain is neither the local one nor an alias.
    pub fn with_trust_domains(mut self, trust: TrustDomains) -> Self {
        self.trust = Some(Arc::new(trust));
        self
    }
}

impl<S> Layer<S> for MtlsLayer {
    type Service = Mtls<S>;

    fn layer(&self, inner: S) -> Mtls<S> {
        Mtls {
            inner,
            policy: self.policy.clone(),
            trust: self.trust.clone(),
        }
    }
}

// === impl Mtls ===

impl<S> Mtls<S> {
    /// Checks one request's connection against the policy.
    fn check<B>(&self, req: &http::Request<B>) -> Result<(), MtlsError> {
        let conn = req
            .extensions()
            .get::<ConnectionFacts>()
            .ok_or(MtlsError::MissingConnectionFacts)?;
        if let (Some(peer), Some(trust)) = (&conn.peer, &self.trust)
            && !SpiffeId::from_principal(peer.principal()).is_ok_and(|id| trust.trusts(&id))
        {
            return Err(MtlsError::UntrustedPeer {
                peer: peer.principal().to_owned(),
                trust_domain: peer.trust_domain().to_owned(),
            });
        }
        // Plaintext unless a verified client certificate named the peer.
        let transport = if conn.peer.is_some() {
            Transport::Mtls
        } else {
            Transport::Plaintext
        };
        let pm = self.policy.port(conn.destination_port);
        if pm.mode.accepts(transport) {
            Ok(())
        } else {
            Err(MtlsError::Refused {
                port: conn.destination_port,
                mode: pm.mode,
                transport,
            })
        }
    }
}

impl<S, B> Service<http::Request<B>> for Mtls<S>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let kind = match self.check(&req) {
            Ok(()) => Kind::Called {
                fut: self.inner.call(req),
            },
            Err(e) => Kind::Refused { error: Some(e) },
        };
        ResponseFuture { kind }
    }
}

// === impl ResponseFuture ===

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called { fut } => fut.poll(cx).map_err(Into::into),
            KindProj::Refused { error } => Poll::Ready(Err(error.take().map_or_else(
                || "ResponseFuture polled after completion".into(),
                Into::into,
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
