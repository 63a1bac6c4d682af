//! Request mirroring as a tower layer (spec §1.7): with the configured probability a copy of
//! the request goes to a second service, fire-and-forget on a tokio task; its response (or
//! error) is ignored and never delays the primary response. The copy needs the body: bodies
//! whose exact length is within the bound (64 KiB by default) are read first and sent to both;
//! others are forwarded without a mirror copy. Body trailers are not copied.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::combinators::Collect;
use tower_layer::Layer;
use tower_service::Service;

use crate::layer::retry::SharedRng;
use crate::layer::timeout::BoxError;
use crate::resilience::mirror::{
    BodyPlan, DEFAULT_MAX_BODY, HostRule, InvalidMirror, MirrorPolicy,
};
use crate::route::action::Mirror as MirrorTarget;

/// Mirrors requests to one mirror service.
#[derive(Clone, Debug)]
pub struct MirrorLayer<M> {
    mirror: M,
    policy: Arc<MirrorPolicy>,
    rng: SharedRng,
}

/// The service of [`MirrorLayer`].
#[derive(Clone, Debug)]
pub struct Mirror<S, M> {
    inner: S,
    mirror: M,
    policy: Arc<MirrorPolicy>,
    rng: SharedRng,
}

pin_project_lite::pin_project! {
    /// The response future of [`Mirror`].
    pub struct ResponseFuture<S, M, B, F>
    where
        B: Body,
    {
        #[pin]
        state: State<S, M, B, F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S, M, B, F>
    where
        B: Body,
    {
        Collecting {
            #[pin]
            collect: Collect<B>,
            parts: Option<http::request::Parts>,
            svc: Option<S>,
            mirror: Option<M>,
            policy: Arc<MirrorPolicy>,
        },
        Calling {
            #[pin]
            fut: F,
        },
    }
}

// === impl MirrorLayer ===

impl<M> MirrorLayer<M> {
    /// Mirrors to `mirror` as `target` says (its percentage; host and subset were resolved by
    /// the caller into `mirror`), writing the authority per `host_rule`.
    pub fn new(
        mirror: M,
        target: &MirrorTarget,
        host_rule: HostRule,
    ) -> Result<Self, InvalidMirror> {
        Self::from_rng(
            mirror,
            target,
            host_rule,
            DEFAULT_MAX_BODY,
            SharedRng::from_entropy(),
        )
    }

    /// With an explicit body bound and RNG.
    pub fn from_rng(
        mirror: M,
        target: &MirrorTarget,
        host_rule: HostRule,
        max_body: u64,
        rng: SharedRng,
    ) -> Result<Self, InvalidMirror> {
        let policy = MirrorPolicy::try_new(std::slice::from_ref(target), host_rule, max_body)?;
        Ok(MirrorLayer {
            mirror,
            policy: Arc::new(policy),
            rng,
        })
    }
}

impl<S, M: Clone> Layer<S> for MirrorLayer<M> {
    type Service = Mirror<S, M>;
    fn layer(&self, inner: S) -> Mirror<S, M> {
        Mirror {
            inner,
            mirror: self.mirror.clone(),
            policy: self.policy.clone(),
            rng: self.rng.clone(),
        }
    }
}

// === impl Mirror ===

impl<S, M, B> Service<http::Request<B>> for Mirror<S, M>
where
    S: Service<http::Request<B>> + Clone,
    S::Error: Into<BoxError>,
    M: Service<http::Request<B>> + Clone + Send + 'static,
    M::Future: Send,
    B: Body<Data = Bytes> + From<Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, M, B, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let fires = self.rng.with(|rng| !self.policy.pick(rng).is_empty());
        let plan = if fires {
            self.policy.body_plan(req.body().size_hint().exact())
        } else {
            BodyPlan::Skip
        };
        let state = match plan {
            BodyPlan::Skip => State::Calling {
                fut: self.inner.call(req),
            },
            BodyPlan::Empty => {
                let (parts, body) = req.into_parts();
                spawn_mirror(
                    self.mirror.clone(),
                    &self.policy,
                    parts.clone(),
                    Bytes::new(),
                );
                State::Calling {
                    fut: self.inner.call(http::Request::from_parts(parts, body)),
                }
            }
            BodyPlan::Buffer(_) => {
                // The ready service goes into the future; this one starts unreserved.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let (parts, body) = req.into_parts();
                State::Collecting {
                    collect: body.collect(),
                    parts: Some(parts),
                    svc: Some(ready),
                    mirror: Some(self.mirror.clone()),
                    policy: self.policy.clone(),
                }
            }
        };
        ResponseFuture { state }
    }
}

impl<S, M, B> Future for ResponseFuture<S, M, B, S::Future>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    M: Service<http::Request<B>> + Send + 'static,
    M::Future: Send,
    B: Body<Data = Bytes> + From<Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Collecting {
                    collect,
                    parts,
                    svc,
                    mirror,
                    policy,
                } => {
                    let data = ready!(collect.poll(cx)).map_err(Into::into)?.to_bytes();
                    let (Some(parts), Some(mut svc), Some(mirror)) =
                        (parts.take(), svc.take(), mirror.take())
                    else {
                        unreachable!("polled after completion")
                    };
                    spawn_mirror(mirror, policy, parts.clone(), data.clone());
                    State::Calling {
                        fut: svc.call(http::Request::from_parts(parts, B::from(data))),
                    }
                }
                StateProj::Calling { fut } => {
                    return fut.poll(cx).map_err(Into::into);
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

/// Sends the copy on its own task; its response and errors are dropped.
fn spawn_mirror<M, B>(
    mut mirror: M,
    policy: &MirrorPolicy,
    mut parts: http::request::Parts,
    data: Bytes,
) where
    M: Service<http::Request<B>> + Send + 'static,
    M::Future: Send,
    B: From<Bytes> + Send + 'static,
{
    rewrite_authority(policy, &mut parts);
    let req = http::Request::from_parts(parts, B::from(data));
    tokio::spawn(async move {
        if poll_fn(|cx| mirror.poll_ready(cx)).await.is_ok() {
            // Fire and forget: the mirror's answer is ignored.
            let _ = mirror.call(req).await;
        }
    });
}

/// Applies the host rule to the URI authority and the `Host` header.
fn rewrite_authority(policy: &MirrorPolicy, parts: &mut http::request::Parts) {
    let current = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    let Some(current) = current else { return };
    let new = policy.authority(&current);
    if new == current {
        return;
    }
    if parts.uri.authority().is_some() {
        let mut uri = parts.uri.clone().into_parts();
        uri.authority = new.parse().ok();
        if let Ok(u) = http::Uri::from_parts(uri) {
            parts.uri = u;
        }
    }
    let wants_host =
        parts.headers.contains_key(http::header::HOST) || parts.uri.authority().is_none();
    if let (true, Ok(v)) = (wants_host, http::HeaderValue::from_str(&new)) {
        parts.headers.insert(http::header::HOST, v);
    }
}

#[cfg(test)]
mod tests;
