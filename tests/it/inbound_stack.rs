//! The inbound side embedded in any tower stack, as the README shows it: the shipped
//! PeerAuthentication and AuthorizationPolicy enforced by `MtlsLayer`, `NormalizeLayer` and
//! `AuthzLayer` around an in-memory application.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use mesh_core::layer::authz::AuthzLayer;
use mesh_core::layer::mtls::MtlsLayer;
use mesh_core::layer::normalize::NormalizeLayer;
use mesh_core::model::Workload;
use mesh_core::security::authz::AuthzPolicies;
use mesh_core::security::conn::{ConnectionFacts, PeerIdentity};
use mesh_core::security::peer_authn::PeerAuthentications;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use crate::support::mesh;

/// The README's inbound stack for `production/myapp`; the app echoes the path it was given.
fn inbound() -> impl Service<Request<()>, Response = Response<Bytes>, Error = BoxError> + Clone {
    let mesh = mesh(&["peerauthentication", "authorizationpolicy-myapp"]);
    let myapp = Workload {
        namespace: "production".into(),
        name: "myapp".into(),
        labels: [("app".to_owned(), "myapp".to_owned())].into(),
    };
    let (authz, problems) = AuthzPolicies::from_mesh(&mesh);
    assert!(problems.is_empty(), "{problems:?}");
    let mtls = PeerAuthentications::from_mesh(&mesh).expect("valid PeerAuthentications");
    ServiceBuilder::new()
        .layer(MtlsLayer::new(Arc::new(mtls.for_workload(&myapp))))
        .layer(NormalizeLayer::new(mesh.config().path_normalization))
        .layer(AuthzLayer::new(Arc::new(authz.for_workload(&myapp))))
        .service(tower::service_fn(|req: Request<()>| async move {
            Ok::<_, Infallible>(Response::new(Bytes::from(req.uri().path().to_owned())))
        }))
}

/// A request on port 8080 from `principal` over mTLS, or plaintext when `None`.
fn request(method: &str, path: &str, principal: Option<&str>) -> Request<()> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "myapp.production")
        .body(())
        .expect("valid request");
    req.extensions_mut().insert(ConnectionFacts {
        peer: principal.map(|p| PeerIdentity::from_principal(p).expect("valid principal")),
        source_ip: Some([10, 0, 0, 9].into()),
        destination_port: 8080,
        ..ConnectionFacts::default()
    });
    req
}

async fn send(req: Request<()>) -> Result<(StatusCode, Bytes), BoxError> {
    let rsp = inbound().oneshot(req).await?;
    Ok((rsp.status(), rsp.into_body()))
}

const FRONTEND: Option<&str> = Some("cluster.local/ns/production/sa/frontend");
const OTHER: Option<&str> = Some("cluster.local/ns/production/sa/other");

#[tokio::test]
async fn frontend_is_allowed_on_the_api_and_others_get_rbac_denied() {
    let (status, body) = send(request("GET", "/api/users", FRONTEND)).await.unwrap();
    assert_eq!(
        (status, body.as_ref()),
        (StatusCode::OK, &b"/api/users"[..])
    );
    let (status, body) = send(request("GET", "/api/users", OTHER)).await.unwrap();
    assert_eq!(
        (status, body.as_ref()),
        (StatusCode::FORBIDDEN, &b"RBAC: access denied"[..])
    );
    // Methods outside the rule are denied even for frontend (implicit deny).
    let (status, _) = send(request("DELETE", "/api/users", FRONTEND))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn health_is_open_and_the_app_sees_the_judged_path() {
    let (status, body) = send(request("GET", "/health", OTHER)).await.unwrap();
    assert_eq!((status, body.as_ref()), (StatusCode::OK, &b"/health"[..]));
    // Dot segments are resolved before authorization, and the app receives that same path.
    let (status, body) = send(request("GET", "/api/../health", OTHER)).await.unwrap();
    assert_eq!((status, body.as_ref()), (StatusCode::OK, &b"/health"[..]));
    let (status, _) = send(request("GET", "/health/../api/users", OTHER))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A path that cannot be normalized safely never reaches authorization or the app.
    let (status, _) = send(request("GET", "/api%00/users", FRONTEND))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn strict_mtls_refuses_plaintext_before_anything_else() {
    // production is STRICT: a plaintext request is refused even on the open /health path.
    let err = send(request("GET", "/health", None)).await.unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
}
