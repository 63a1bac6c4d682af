use std::sync::Arc;

use tokio_test::{assert_pending, assert_ready_ok};
use tower_test::mock;

use super::*;
use crate::security::conn::PeerIdentity;
use crate::security::peer_authn::PeerAuthentications;
use crate::testutil::{doc, mesh, workload};

type Req = http::Request<&'static str>;

/// The composed policy of `prod/app` (labels app=a) under these PeerAuthentication specs.
fn policy(specs: &[(&str, &str)]) -> Arc<WorkloadMtls> {
    let docs: Vec<String> = specs
        .iter()
        .map(|(name, spec)| doc("PeerAuthentication", name, spec))
        .collect();
    let t = PeerAuthentications::from_mesh(&mesh(&docs)).unwrap();
    Arc::new(t.for_workload(&workload("prod/app", "app=a")))
}

fn peer() -> SpiffeId {
    SpiffeId::parse("spiffe://cluster.local/ns/front/sa/web").unwrap()
}

fn plaintext(destination_port: u16) -> ConnectionFacts {
    ConnectionFacts {
        destination_port,
        ..ConnectionFacts::default()
    }
}

fn mtls(destination_port: u16, peer: SpiffeId) -> ConnectionFacts {
    ConnectionFacts {
        peer: Some(PeerIdentity::from(&peer)),
        destination_port,
        ..ConnectionFacts::default()
    }
}

fn req(conn: Option<ConnectionFacts>) -> Req {
    let mut r = http::Request::new("body");
    if let Some(c) = conn {
        r.extensions_mut().insert(c);
    }
    r
}

/// Sends one request through the layer; `Ok(status)` when it reached the mock (which answers
/// 200), `Err` with the layer's error otherwise.
async fn send(policy: Arc<WorkloadMtls>, r: Req) -> Result<u16, MtlsError> {
    send_with(MtlsLayer::new(policy), r).await
}

async fn send_with(layer: MtlsLayer, r: Req) -> Result<u16, MtlsError> {
    let (mut svc, mut handle) = mock::spawn_layer::<Req, http::Response<()>, _>(layer);
    handle.allow(1);
    assert_ready_ok!(svc.poll_ready());
    let fut = svc.call(r);
    let reached = tokio::spawn(async move {
        let (_, send) = handle.next_request().await?;
        send.send_response(http::Response::new(()));
        Some(())
    });
    let out = fut.await;
    // Dropping the service ends the mock's request stream, so a refused request shows as none.
    drop(svc);
    let reached = reached.await.unwrap();
    match out {
        Ok(resp) => {
            assert!(reached.is_some());
            Ok(resp.status().as_u16())
        }
        Err(e) => {
            assert!(reached.is_none(), "a refused request reached the service");
            Err(*e.downcast::<MtlsError>().expect("an MtlsError"))
        }
    }
}

#[tokio::test(start_paused = true)]
async fn strict_refuses_plaintext_and_admits_mtls() {
    let strict = policy(&[("prod/ns", "mtls: {mode: STRICT}")]);
    assert_eq!(
        send(strict.clone(), req(Some(plaintext(8080)))).await,
        Err(MtlsError::Refused {
            port: 8080,
            mode: MtlsMode::Strict,
            transport: Transport::Plaintext
        })
    );
    assert_eq!(send(strict, req(Some(mtls(8080, peer())))).await, Ok(200));
}

#[tokio::test(start_paused = true)]
async fn permissive_admits_both_and_disable_refuses_mtls() {
    let permissive = policy(&[]);
    for conn in [plaintext(80), mtls(80, peer())] {
        assert_eq!(send(permissive.clone(), req(Some(conn))).await, Ok(200));
    }
    let disable = policy(&[("prod/ns", "mtls: {mode: DISABLE}")]);
    assert_eq!(
        send(disable.clone(), req(Some(plaintext(80)))).await,
        Ok(200)
    );
    assert!(matches!(
        send(disable, req(Some(mtls(80, peer())))).await,
        Err(MtlsError::Refused {
            mode: MtlsMode::Disable,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn port_level_modes_are_enforced_per_port() {
    let p = policy(&[(
        "prod/wl",
        "selector: {matchLabels: {app: a}}\nmtls: {mode: PERMISSIVE}\nportLevelMtls:\n  \
         \"8443\": {mode: STRICT}",
    )]);
    assert_eq!(send(p.clone(), req(Some(plaintext(8080)))).await, Ok(200));
    assert!(matches!(
        send(p, req(Some(plaintext(8443)))).await,
        Err(MtlsError::Refused { port: 8443, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn missing_connection_facts_fail_closed() {
    // Even under PERMISSIVE: without facts nothing is known about the connection.
    let err = send(policy(&[]), req(None)).await.unwrap_err();
    assert_eq!(err, MtlsError::MissingConnectionFacts);
    assert_eq!(err.origin(), ErrorOrigin::Local);
    assert!(!err.is_retryable());
    let refused = MtlsError::Refused {
        port: 1,
        mode: MtlsMode::Strict,
        transport: Transport::Plaintext,
    };
    assert_eq!(refused.origin(), ErrorOrigin::Downstream);
    assert_eq!(
        refused.to_string(),
        "plaintext connection refused on port 1 (PeerAuthentication STRICT)"
    );
}

#[tokio::test(start_paused = true)]
async fn readiness_follows_the_inner_service() {
    let (mut svc, mut handle) =
        mock::spawn_layer::<Req, http::Response<()>, _>(MtlsLayer::new(policy(&[])));
    handle.allow(0);
    assert_pending!(svc.poll_ready());
    handle.allow(1);
    assert_ready_ok!(svc.poll_ready());
}

#[tokio::test(start_paused = true)]
async fn peers_from_untrusted_domains_are_refused() {
    let trust = TrustDomains::try_new("cluster.local", ["old.local"]).unwrap();
    let layer = || MtlsLayer::new(policy(&[])).with_trust_domains(trust.clone());
    let from = |id: &str| req(Some(mtls(80, SpiffeId::parse(id).unwrap())));
    assert_eq!(
        send_with(layer(), from("spiffe://old.local/ns/a/sa/b")).await,
        Ok(200)
    );
    let err = send_with(layer(), from("spiffe://clusterset.local/ns/a/sa/b"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        MtlsError::UntrustedPeer {
            peer: "clusterset.local/ns/a/sa/b".into(),
            trust_domain: "clusterset.local".into()
        }
    );
    assert_eq!(err.origin(), ErrorOrigin::Downstream);
    // Plaintext has no identity to check; the mode decides (PERMISSIVE here).
    assert_eq!(send_with(layer(), req(Some(plaintext(80)))).await, Ok(200));
}
