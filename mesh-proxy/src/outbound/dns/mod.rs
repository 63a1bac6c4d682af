//! DNS for hostname endpoints (ServiceEntry `resolution: DNS`: `endpoints[].address` a
//! hostname, or no endpoints and the host itself). Names are resolved with tokio's resolver
//! (`tokio::net::lookup_host`, the system's `getaddrinfo`) when a connection is opened, through
//! a small cache: an answer is reused until the refresh interval passes (Istio's
//! `dnsRefreshRate`, 60 s by default), and a failed refresh keeps serving the last good answer
//! (Envoy's strict DNS keeps its hosts when a refresh fails). A name that never resolved fails
//! the connection: the request is answered 503 `UF` and the failure is logged.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::dns::Name;
use tokio::time::Instant;

/// Istio's default `dnsRefreshRate`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Looks a name up (tokio's resolver in production; a fake in tests).
pub type Lookup = Arc<dyn Fn(String) -> BoxFuture<io::Result<Vec<IpAddr>>> + Send + Sync>;

/// Resolved names, reused until `refresh` passes. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct DnsCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    refresh: Duration,
    lookup: Lookup,
}

#[derive(Clone, Debug)]
struct Entry {
    addrs: Arc<[IpAddr]>,
    resolved: Instant,
}

impl std::fmt::Debug for DnsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsCache")
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

// === impl DnsCache ===

impl DnsCache {
    /// A cache over tokio's resolver.
    pub fn new(refresh: Duration) -> Self {
        let lookup: Lookup = Arc::new(|host: String| {
            Box::pin(async move {
                let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
                Ok(addrs.map(|a| a.ip()).collect())
            })
        });
        Self::with_lookup(refresh, lookup)
    }

    /// A cache over `lookup`.
    pub fn with_lookup(refresh: Duration, lookup: Lookup) -> Self {
        DnsCache {
            entries: Arc::default(),
            refresh,
            lookup,
        }
    }

    /// The addresses of `host` (an IP literal is its own answer, never looked up).
    pub async fn resolve(&self, host: &str) -> io::Result<Arc<[IpAddr]>> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Arc::from([ip]));
        }
        let key = host.to_ascii_lowercase();
        let now = Instant::now();
        let cached = self.lock().get(&key).cloned();
        if let Some(e) = &cached
            && now.saturating_duration_since(e.resolved) < self.refresh
        {
            return Ok(e.addrs.clone());
        }
        match (self.lookup)(key.clone()).await {
            Ok(addrs) if !addrs.is_empty() => {
                let addrs: Arc<[IpAddr]> = addrs.into();
                self.lock().insert(
                    key,
                    Entry {
                        addrs: addrs.clone(),
                        resolved: now,
                    },
                );
                Ok(addrs)
            }
            result => {
                let error = match result {
                    Err(e) => e,
                    Ok(_) => io::Error::new(io::ErrorKind::NotFound, "no addresses"),
                };
                match cached {
                    Some(e) => {
                        tracing::warn!(%host, %error, "DNS refresh failed; keeping the last answer");
                        Ok(e.addrs)
                    }
                    None => {
                        tracing::warn!(%host, %error, "DNS resolution failed");
                        Err(io::Error::new(
                            error.kind(),
                            format!("cannot resolve {host}: {error}"),
                        ))
                    }
                }
            }
        }
    }

    /// The socket addresses of `host:port`.
    pub async fn resolve_port(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let ips = self.resolve(host).await?;
        Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// hyper-util's connector asks this for the addresses of a name (port 0: it sets the port).
impl tower::Service<Name> for DnsCache {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = BoxFuture<io::Result<std::vec::IntoIter<SocketAddr>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let cache = self.clone();
        Box::pin(async move {
            let addrs = cache.resolve_port(name.as_str(), 0).await?;
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(test)]
mod tests;
