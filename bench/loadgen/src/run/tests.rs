use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{Config, LoadError, run};
use crate::schedule::Schedule;

/// What the test server saw: (path, Host header) of every request, and how many connections.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, String)>,
    connections: usize,
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1:0: 200 with a 1 KiB body for `/ok`, 503 otherwise.
async fn server() -> (SocketAddr, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            s.lock().unwrap().connections += 1;
            let s = s.clone();
            let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                let host = req
                    .headers()
                    .get("host")
                    .map(|h| h.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let path = req.uri().path().to_owned();
                s.lock().unwrap().requests.push((path.clone(), host));
                let status = if path == "/ok" {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let resp = Response::builder()
                    .status(status)
                    .body(Full::new(Bytes::from(vec![b'x'; 1024])))
                    .unwrap();
                async move { Ok::<_, Infallible>(resp) }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), svc));
        }
    });
    (addr, seen)
}

fn config(addr: SocketAddr, path: &str, connections: u32) -> Config {
    let schedule = Schedule::try_new(200, Duration::from_millis(250)).unwrap();
    Config::try_new(addr, path, "shop.frontend", schedule, connections).unwrap()
}

#[tokio::test]
async fn loads_a_server_with_the_path_and_host_on_kept_alive_connections() {
    let (addr, seen) = server().await;
    let cfg = config(addr, "/ok", 4);
    let due = cfg.schedule().len();
    assert_eq!(due, 50);
    let r = run(&cfg).await.unwrap();
    assert!(r.requests > 0);
    assert_eq!(r.errors, 0);
    assert_eq!(r.requests + r.pending, due);
    let (p50, p90, p99) = (r.p50_ms.unwrap(), r.p90_ms.unwrap(), r.p99_ms.unwrap());
    assert!(0.0 < p50 && p50 <= p90 && p90 <= p99);
    let seen = seen.lock().unwrap();
    // Keep-alive: the 4 connections made up front carry every request.
    assert_eq!(seen.connections, 4);
    assert!(seen.requests.len() as u64 >= r.requests);
    assert!(
        seen.requests
            .iter()
            .all(|(p, h)| p == "/ok" && h == "shop.frontend")
    );
}

#[tokio::test]
async fn non_2xx_answers_are_errors_without_latencies() {
    let (addr, _) = server().await;
    let r = run(&config(addr, "/missing", 2)).await.unwrap();
    assert!(r.requests > 0);
    assert_eq!(r.errors, r.requests);
    assert_eq!(r.p50_ms, None);
}

#[tokio::test]
async fn a_target_that_refuses_connections_is_reported() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let err = run(&config(addr, "/ok", 1)).await.unwrap_err();
    assert!(
        matches!(err, LoadError::Connect { addr: a, .. } if a == addr),
        "{err:?}"
    );
}

#[test]
fn bad_configuration_is_refused_with_what_was_wrong() {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let s = Schedule::try_new(10, Duration::from_secs(1)).unwrap();
    assert_eq!(
        Config::try_new(addr, "2b", "h", s, 1).unwrap_err(),
        LoadError::InvalidPath("2b".into())
    );
    assert_eq!(
        Config::try_new(addr, "/2b", "bad\nhost", s, 1).unwrap_err(),
        LoadError::InvalidHost("bad\nhost".into())
    );
    assert_eq!(
        Config::try_new(addr, "/2b", "h", s, 0).unwrap_err(),
        LoadError::NoConnections
    );
}
