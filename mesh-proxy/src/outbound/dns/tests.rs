use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A resolver that answers from a table and counts its lookups.
fn fake(table: Arc<Mutex<HashMap<String, Vec<IpAddr>>>>, calls: Arc<AtomicU32>) -> Lookup {
    Arc::new(move |host: String| {
        calls.fetch_add(1, Ordering::SeqCst);
        let answer = table.lock().unwrap().get(&host).cloned();
        Box::pin(async move {
            answer.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "NXDOMAIN"))
        })
    })
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn answers_are_reused_until_the_refresh_interval_passes() {
    let table = Arc::new(Mutex::new(HashMap::from([(
        "api.example.com".to_owned(),
        vec![ip("10.0.0.1")],
    )])));
    let calls = Arc::new(AtomicU32::new(0));
    let cache = DnsCache::with_lookup(Duration::from_secs(30), fake(table.clone(), calls.clone()));

    assert_eq!(
        &*cache.resolve("API.example.com").await.unwrap(),
        [ip("10.0.0.1")]
    );
    tokio::time::advance(Duration::from_secs(29)).await;
    assert_eq!(
        &*cache.resolve("api.example.com").await.unwrap(),
        [ip("10.0.0.1")]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // After the interval the name is looked up again and a new answer is taken.
    table
        .lock()
        .unwrap()
        .insert("api.example.com".into(), vec![ip("10.0.0.2")]);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        &*cache.resolve("api.example.com").await.unwrap(),
        [ip("10.0.0.2")]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A failed refresh keeps the last good answer.
    table.lock().unwrap().clear();
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(
        &*cache.resolve("api.example.com").await.unwrap(),
        [ip("10.0.0.2")]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_name_fails_and_ip_literals_are_never_looked_up() {
    let calls = Arc::new(AtomicU32::new(0));
    let cache = DnsCache::with_lookup(DEFAULT_REFRESH, fake(Arc::default(), calls.clone()));
    let err = cache.resolve("nowhere.invalid").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains("nowhere.invalid"), "{err}");
    // Failures are not cached: the next connection asks again.
    assert!(cache.resolve("nowhere.invalid").await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    assert_eq!(
        &*cache.resolve("127.0.0.1").await.unwrap(),
        [ip("127.0.0.1")]
    );
    assert_eq!(&*cache.resolve("[::1]").await.unwrap(), [ip("::1")]);
    assert_eq!(
        cache.resolve_port("10.1.2.3", 8080).await.unwrap(),
        [SocketAddr::new(ip("10.1.2.3"), 8080)]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn localhost_resolves_through_tokio() {
    let cache = DnsCache::new(DEFAULT_REFRESH);
    let addrs = cache.resolve_port("localhost", 80).await.unwrap();
    assert!(
        addrs.iter().any(|a| a.ip().is_loopback() && a.port() == 80),
        "{addrs:?}"
    );
}
