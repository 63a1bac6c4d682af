//! `credentialName` resolution: missing, wrong type, missing key, missing CA.

use super::*;
#[test]
fn credential_errors_fail_the_handshake_of_that_server_only() {
    let g = build(&[
        tls_secret("other/ns-mismatch"),
        secret("edge/docker", "kubernetes.io/dockerconfigjson", &[]),
        secret("edge/opaque", "Opaque", &["cert", "key"]),
        tls_secret("edge/noca"),
        tls_secret("edge/fine"),
        gateway(&format!(
            "{}{}{}{}{}{}",
            server(
                443,
                "HTTPS",
                "missing.example.com",
                "mode: SIMPLE, credentialName: nope"
            ),
            server(
                443,
                "HTTPS",
                "other.example.com",
                "mode: SIMPLE, credentialName: ns-mismatch"
            ),
            server(
                443,
                "HTTPS",
                "docker.example.com",
                "mode: SIMPLE, credentialName: docker"
            ),
            server(
                443,
                "HTTPS",
                "opaque.example.com",
                "mode: SIMPLE, credentialName: opaque"
            ),
            server(
                443,
                "HTTPS",
                "noca.example.com",
                "mode: MUTUAL, credentialName: noca"
            ),
            server(
                443,
                "HTTPS",
                "fine.example.com",
                "mode: SIMPLE, credentialName: fine"
            ),
        )),
    ]);
    let err = |server| match pick(&g, 443, Some(&format!("{server}.example.com"))) {
        Err(ConnectError::Credential { error, .. }) => error,
        other => panic!("{server}: {other:?}"),
    };
    assert_eq!(
        err("missing"),
        CredentialError::Missing {
            namespace: "edge".into(),
            name: "nope".into()
        }
    );
    // Secrets are read from the Gateway's namespace only.
    assert!(matches!(err("other"), CredentialError::Missing { .. }));
    assert_eq!(
        err("docker"),
        CredentialError::WrongType {
            secret: "edge/docker".into(),
            found: "kubernetes.io/dockerconfigjson".into()
        }
    );
    assert!(matches!(err("noca"), CredentialError::MissingCa { .. }));
    // Istio's generic (Opaque cert/key) layout works, and so does a healthy neighbour.
    assert_eq!(pick(&g, 443, Some("opaque.example.com")), Ok(3));
    assert_eq!(pick(&g, 443, Some("fine.example.com")), Ok(5));
    assert_eq!(g.credential_errors().count(), 4);
}

#[test]
fn a_tls_secret_without_its_key_is_refused() {
    // Validation rejects this Secret at load; the engine refuses it on its own too.
    let m = mesh(&[
        tls_secret("edge/s"),
        gateway(&server(
            443,
            "HTTPS",
            "a.example.com",
            "mode: SIMPLE, credentialName: s",
        )),
    ]);
    let mut resources = m.resources().to_vec();
    for r in &mut resources {
        if let crate::resource::Spec::Secret(s) = &mut r.spec {
            s.string_data.remove("tls.key");
        }
    }
    let (m, _) = crate::Mesh::build(resources, m.config().clone());
    let g = GatewayTls::from_mesh(&m, "edge/gw").unwrap();
    assert_eq!(
        g.servers[0].termination,
        Err(CredentialError::MissingKey {
            secret: "edge/s".into(),
            key: "tls.key"
        })
    );
}

#[test]
fn every_credential_name_must_resolve() {
    let g = build(&[
        tls_secret("edge/rsa"),
        tls_secret("edge/ecdsa"),
        gateway(&format!(
            "{}{}",
            server(
                443,
                "HTTPS",
                "a.example.com",
                "mode: SIMPLE, credentialNames: [rsa, ecdsa]"
            ),
            server(
                443,
                "HTTPS",
                "b.example.com",
                "mode: SIMPLE, credentialNames: [rsa, gone]"
            ),
        )),
    ]);
    assert_eq!(pick(&g, 443, Some("a.example.com")), Ok(0));
    assert_eq!(
        pick(&g, 443, Some("b.example.com")),
        Err(ConnectError::Credential {
            server: 1,
            error: CredentialError::Missing {
                namespace: "edge".into(),
                name: "gone".into()
            }
        })
    );
}
