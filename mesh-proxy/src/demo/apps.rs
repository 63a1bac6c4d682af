//! The demo's applications: tiny HTTP/1.1 servers on 127.0.0.1:0 that answer with their own
//! name (so a client sees which pod served it) and count what they receive. One always fails
//! with 503. A request header `x-demo-delay-ms` holds the answer that long (at most 10 s), to
//! show timeouts and circuit breakers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The request header that delays an application's answer, in milliseconds.
pub const DELAY_HEADER: &str = "x-demo-delay-ms";

/// The longest delay an application honours.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// How an application answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// `200` with its name.
    Ok,
    /// `503` with its name, always.
    Fail,
}

/// A running application.
#[derive(Clone, Debug)]
pub struct App {
    /// Where it listens.
    pub addr: SocketAddr,
    hits: Arc<AtomicU64>,
}

// === impl App ===

impl App {
    /// Binds 127.0.0.1:0 and serves until `stop` turns true.
    pub async fn start(
        name: &'static str,
        behaviour: Behaviour,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<App> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            let mut stop = stop;
            loop {
                let stream = tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let counter = counter.clone();
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    answer(name, behaviour, delay_of(&req))
                });
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = &mut conn => {}
                        _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
                    }
                });
            }
        });
        Ok(App { addr, hits })
    }

    /// Requests received so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

fn delay_of(req: &Request<Incoming>) -> Duration {
    req.headers()
        .get(DELAY_HEADER)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, |ms| {
            Duration::from_millis(ms).min(MAX_DELAY)
        })
}

async fn answer(
    name: &'static str,
    behaviour: Behaviour,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut rsp = Response::new(Full::new(Bytes::from_static(name.as_bytes())));
    if behaviour == Behaviour::Fail {
        *rsp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    Ok(rsp)
}
