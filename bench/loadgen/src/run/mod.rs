//! The run: N keep-alive connections take the due requests from one queue, in order.
//!
//! A ticker thread releases request `i` at `t0 + i / rate` (an OS thread sleeping to the
//! microsecond, not tokio's millisecond timer wheel); whichever connection is free sends it, and
//! the recorder measures from the release time. When every connection is busy the due requests
//! wait in the queue, and that wait is part of their latency.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header::HOST};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::schedule::Schedule;
use crate::stats::{Recorder, Report};

#[cfg(test)]
mod tests;

/// How long after the connections are up the first request is due.
const LEAD: Duration = Duration::from_millis(5);

/// What to load and how, checked once.
#[derive(Clone, Debug)]
pub struct Config {
    addr: SocketAddr,
    path: Uri,
    host: HeaderValue,
    schedule: Schedule,
    connections: u32,
}

/// Why a run could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The path is not an origin-form request target such as `/2b`.
    #[error("invalid path {0:?}: expected an origin-form target such as /2b")]
    InvalidPath(String),
    /// The Host header value has characters a header cannot carry.
    #[error("invalid Host header value {0:?}")]
    InvalidHost(String),
    /// Zero connections.
    #[error("at least one connection is needed")]
    NoConnections,
    /// A connection could not be set up before the run.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The target.
        addr: SocketAddr,
        /// What the socket or the HTTP/1.1 handshake said.
        reason: String,
    },
}

type Queue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Instant>>>;

/// A request that failed below HTTP; its connection is dropped and made again.
struct Transport;

// === impl Config ===

impl Config {
    /// Load `addr` with `GET path` and `Host: host` on `connections` connections by `schedule`.
    pub fn try_new(
        addr: SocketAddr,
        path: &str,
        host: &str,
        schedule: Schedule,
        connections: u32,
    ) -> Result<Self, LoadError> {
        let bad_path = || LoadError::InvalidPath(path.to_owned());
        if !path.starts_with('/') {
            return Err(bad_path());
        }
        let path = Uri::try_from(path).map_err(|_| bad_path())?;
        let host =
            HeaderValue::from_str(host).map_err(|_| LoadError::InvalidHost(host.to_owned()))?;
        if connections == 0 {
            return Err(LoadError::NoConnections);
        }
        Ok(Self {
            addr,
            path,
            host,
            schedule,
            connections,
        })
    }

    /// The schedule of the run.
    pub const fn schedule(&self) -> Schedule {
        self.schedule
    }
}

// === run ===

/// Connects every connection, runs the schedule and reports what finished inside the window.
/// Requests still in flight when the window ends are abandoned and reported as pending.
pub async fn run(cfg: &Config) -> Result<Report, LoadError> {
    let mut conns = Vec::with_capacity(cfg.connections as usize);
    for _ in 0..cfg.connections {
        let c = connect(cfg.addr)
            .await
            .map_err(|reason| LoadError::Connect {
                addr: cfg.addr,
                reason,
            })?;
        conns.push(c);
    }
    let schedule = cfg.schedule;
    let due = schedule.len();
    let t0 = Instant::now() + LEAD;
    let end = t0 + schedule.duration();
    let recorder = Arc::new(Mutex::new(Recorder::new(
        end,
        usize::try_from(due).unwrap_or(usize::MAX).min(1 << 24),
    )));
    let (tx, rx) = mpsc::unbounded_channel();
    let queue: Queue = Arc::new(tokio::sync::Mutex::new(rx));
    // Ends on its own after the last due request (inside the window), or when the queue is gone.
    std::thread::spawn(move || tick(schedule, t0, due, &tx));
    let mut workers = JoinSet::new();
    let target = Arc::new(cfg.clone());
    for c in conns {
        workers.spawn(worker(
            Some(c),
            queue.clone(),
            recorder.clone(),
            target.clone(),
        ));
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(end)).await;
    workers.abort_all();
    while workers.join_next().await.is_some() {}
    let recorder = recorder
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(recorder.report(due, schedule.duration()))
}

fn tick(schedule: Schedule, t0: Instant, due: u64, tx: &mpsc::UnboundedSender<Instant>) {
    for i in 0..due {
        let at = t0 + schedule.offset(i);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        if tx.send(at).is_err() {
            return;
        }
    }
}

async fn worker(
    mut conn: Option<SendRequest<Empty<Bytes>>>,
    queue: Queue,
    recorder: Arc<Mutex<Recorder>>,
    target: Arc<Config>,
) {
    loop {
        let next = queue.lock().await.recv().await;
        let Some(scheduled) = next else { return };
        let outcome = request(&mut conn, &target).await;
        let done = Instant::now();
        let mut rec = recorder.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(success) => rec.response(scheduled, done, success),
            Err(Transport) => {
                rec.transport_error(done);
                conn = None;
            }
        }
    }
}

/// One request on `conn` (made again first if a failure dropped it); whether it was a 2xx.
async fn request(
    conn: &mut Option<SendRequest<Empty<Bytes>>>,
    target: &Config,
) -> Result<bool, Transport> {
    let sender = match conn {
        Some(s) => s,
        None => conn.insert(connect(target.addr).await.map_err(|_| Transport)?),
    };
    sender.ready().await.map_err(|_| Transport)?;
    let mut req = Request::new(Empty::new());
    *req.uri_mut() = target.path.clone();
    req.headers_mut().insert(HOST, target.host.clone());
    let resp = sender.send_request(req).await.map_err(|_| Transport)?;
    let success = resp.status().is_success();
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        frame.map_err(|_| Transport)?;
    }
    Ok(success)
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    // Drives the connection; ends when the sender is dropped or the peer closes.
    tokio::spawn(conn);
    Ok(sender)
}
