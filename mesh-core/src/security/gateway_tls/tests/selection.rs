//! Server selection by port and SNI, TLS modes, 301 and 421.

use super::*;

#[test]
fn sni_selects_the_most_specific_server() {
    let g = relaxed_sni();
    // Table: (SNI, selected server or error)
    let none = |sni: Option<&str>| ConnectError::NoMatchingServer {
        port: 443,
        sni: sni.map(str::to_owned),
    };
    let cases = [
        (Some("admin.example.com"), Ok(1)),
        (Some("ADMIN.Example.COM."), Ok(1)),
        (Some("guest.example.com"), Ok(0)),
        // Envoy server_names: a wildcard covers deeper names too.
        (Some("a.b.example.com"), Ok(0)),
        // `*.example.com` does not cover the apex.
        (Some("example.com"), Err(none(Some("example.com")))),
        (Some("other.org"), Err(none(Some("other.org")))),
        // Without SNI only a `*` server matches.
        (None, Err(none(None))),
    ];
    for (sni, want) in cases {
        assert_eq!(pick(&g, 443, sni), want, "{sni:?}");
    }
}

#[test]
fn terminating_modes_say_what_the_client_must_present() {
    let g = relaxed_sni();
    let a = g.accept(443, tls(Some("admin.example.com"))).unwrap();
    let Accepted::Terminated {
        client_cert,
        certificate,
        sni,
        ..
    } = a
    else {
        panic!("{a:?}")
    };
    assert_eq!(client_cert, ClientCert::Required);
    assert_eq!(sni.as_deref(), Some("admin.example.com"));
    assert_eq!(
        certificate,
        Some(CertSource::Credential(Credential {
            secret: "edge/admin".into(),
            ca_secret: Some("edge/admin".into()),
        }))
    );
    let g = build(&[
        tls_secret("edge/c"),
        secret(
            "edge/c-cacert",
            "kubernetes.io/tls",
            &["tls.crt", "tls.key", "ca.crt"],
        ),
        gateway(&format!(
            "{}{}{}",
            server(
                443,
                "HTTPS",
                "a.example.com",
                "mode: OPTIONAL_MUTUAL, credentialName: c"
            ),
            server(443, "HTTPS", "b.example.com", "mode: ISTIO_MUTUAL"),
            server(
                443,
                "HTTPS",
                "c.example.com",
                "mode: SIMPLE, credentialName: c"
            ),
        )),
    ]);
    let cert = |sni| match g.accept(443, tls(Some(sni))).unwrap() {
        Accepted::Terminated {
            client_cert,
            certificate,
            ..
        } => (client_cert, certificate.is_some()),
        other => panic!("{other:?}"),
    };
    assert_eq!(cert("a.example.com"), (ClientCert::Optional, true));
    assert_eq!(cert("b.example.com"), (ClientCert::Required, false));
    assert_eq!(cert("c.example.com"), (ClientCert::NotRequested, true));
    // The CA of `c` comes from the `c-cacert` Secret.
    let Ok(Termination::OptionalMutual(CertSource::Credential(c))) = &g.servers[0].termination
    else {
        panic!("{:?}", g.servers[0].termination)
    };
    assert_eq!(c.ca_secret.as_deref(), Some("edge/c-cacert"));
}

#[test]
fn host_must_belong_to_the_connections_server_else_421() {
    let g = relaxed_sni();
    let guest = g.accept(443, tls(Some("guest.example.com"))).unwrap();
    let admin = g.accept(443, tls(Some("admin.example.com"))).unwrap();
    // Table: (connection, Host, proceeds on server)
    let cases = [
        (&guest, "guest.example.com", Some(0)),
        (&guest, "Guest.Example.com:443", Some(0)),
        (&guest, "x.example.com", Some(0)),
        // security.md §1.2: reusing the SIMPLE connection for the MUTUAL host.
        (&guest, "admin.example.com", None),
        (&guest, "other.org", None),
        (&guest, "", None),
        (&admin, "admin.example.com", Some(1)),
        (&admin, "guest.example.com", None),
    ];
    for (conn, host, want) in cases {
        let v = g.request(conn, host, "/");
        match want {
            Some(server) => assert_eq!(v, RequestVerdict::Proceed { server }, "{host}"),
            None => assert!(
                matches!(v, RequestVerdict::Misdirected { status: 421, .. }),
                "{host}: {v:?}"
            ),
        }
    }
    let RequestVerdict::Misdirected { reason, .. } = g.request(&guest, "admin.example.com", "/")
    else {
        unreachable!()
    };
    assert!(reason.contains("servers[1]"), "{reason}");
}

#[test]
fn a_star_server_takes_connections_without_sni() {
    let g = build(&[
        tls_secret("edge/any"),
        tls_secret("edge/shop"),
        gateway(&format!(
            "{}{}",
            server(443, "HTTPS", "\"*\"", "mode: SIMPLE, credentialName: any"),
            server(
                443,
                "HTTPS",
                "shop.example.com",
                "mode: SIMPLE, credentialName: shop"
            ),
        )),
    ]);
    assert_eq!(pick(&g, 443, None), Ok(0));
    assert_eq!(pick(&g, 443, Some("unknown.org")), Ok(0));
    assert_eq!(pick(&g, 443, Some("shop.example.com")), Ok(1));
    let any = g.accept(443, tls(None)).unwrap();
    assert_eq!(
        g.request(&any, "foo.org", "/"),
        RequestVerdict::Proceed { server: 0 }
    );
    assert!(matches!(
        g.request(&any, "shop.example.com", "/"),
        RequestVerdict::Misdirected { .. }
    ));
}

#[test]
fn https_redirect_answers_301_on_plaintext() {
    let g = build(&[gateway(&format!(
        "{}{}",
        server(80, "HTTP", "\"*.example.com\"", "httpsRedirect: true"),
        server(80, "HTTP", "plain.example.com", ""),
    ))]);
    let conn = g.accept(80, GatewayTransport::Plaintext).unwrap();
    assert_eq!(conn, Accepted::PlaintextHttp { port: 80 });
    assert_eq!(
        g.request(&conn, "Shop.example.com:80", "/cart?id=1"),
        RequestVerdict::Redirect {
            server: 0,
            status: 301,
            location: "https://shop.example.com/cart?id=1".into()
        }
    );
    assert_eq!(
        g.request(&conn, "plain.example.com", "/"),
        RequestVerdict::Proceed { server: 1 }
    );
    assert_eq!(
        g.request(&conn, "other.org", "/"),
        RequestVerdict::NotFound { status: 404 }
    );
}

#[test]
fn passthrough_is_the_default_mode_even_with_a_credential() {
    // §8.2 quirk: `tls: {credentialName: x}` without a mode never terminates.
    let g = build(&[
        tls_secret("edge/x"),
        gateway(&format!(
            "{}{}",
            server(443, "TLS", "a.example.com", "credentialName: x"),
            server(443, "TLS", "b.example.com", "mode: PASSTHROUGH"),
        )),
    ]);
    for sni in ["a.example.com", "b.example.com"] {
        let a = g.accept(443, tls(Some(sni))).unwrap();
        assert!(matches!(a, Accepted::Passthrough { .. }), "{a:?}");
        assert_eq!(g.request(&a, sni, "/"), RequestVerdict::NotHttp);
    }
}

#[test]
fn auto_passthrough_reads_the_destination_from_the_sni() {
    let g = build(&[gateway(&server(
        15443,
        "TLS",
        "\"*.local\"",
        "mode: AUTO_PASSTHROUGH",
    ))]);
    let target = |sni| match g.accept(15443, tls(Some(sni))) {
        Ok(Accepted::AutoPassthrough { target, .. }) => Ok(target),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    assert_eq!(
        target("outbound_.8080_._.httpbin.default.svc.cluster.local"),
        Ok(AutoPassthroughTarget {
            port: 8080,
            subset: None,
            host: "httpbin.default.svc.cluster.local".into()
        })
    );
    assert_eq!(
        target("outbound_.9080_.v1_.reviews.default.svc.cluster.local")
            .unwrap()
            .subset
            .as_deref(),
        Some("v1")
    );
    for bad in [
        "inbound_.8080_._.a.svc.cluster.local",
        "outbound_.0_._.a.svc.cluster.local",
        "outbound_.x_._.a.svc.cluster.local",
        "plain.svc.cluster.local",
    ] {
        assert_eq!(
            target(bad),
            Err(ConnectError::AutoPassthroughSni(bad.into())),
            "{bad}"
        );
    }
}

#[test]
fn transport_must_fit_the_port() {
    let g = build(&[
        tls_secret("edge/s"),
        gateway(&format!(
            "{}{}{}",
            server(80, "HTTP", "\"*\"", ""),
            server(443, "HTTPS", "\"*\"", "mode: SIMPLE, credentialName: s"),
            server(5432, "TCP", "\"*\"", ""),
        )),
    ]);
    assert_eq!(
        g.accept(443, GatewayTransport::Plaintext),
        Err(ConnectError::TlsRequired(443))
    );
    assert_eq!(
        g.accept(80, tls(Some("a.example.com"))),
        Err(ConnectError::UnexpectedTls(80))
    );
    assert_eq!(
        g.accept(5432, GatewayTransport::Plaintext),
        Ok(Accepted::Opaque {
            port: 5432,
            server: 2
        })
    );
    assert_eq!(
        g.accept(8443, GatewayTransport::Plaintext),
        Err(ConnectError::NoServer(8443))
    );
    assert_eq!(
        GatewayTls::from_mesh(&mesh(&[]), "edge/none"),
        Err(InvalidGatewayTls::UnknownGateway("edge/none".into()))
    );
}

#[test]
fn bad_sni_is_refused_not_trusted() {
    // security.md T-17 (CVE-2024-32475 class).
    let g = relaxed_sni();
    let long = format!("{}.example.com", "a".repeat(300));
    let label = format!("{}.example.com", "a".repeat(64));
    for sni in [
        long.as_str(),
        label.as_str(),
        "a b.example.com",
        "a..example.com",
        "10.0.0.1",
        "::1",
        "",
        "admin.example.com\0",
        "ädmin.example.com",
    ] {
        assert!(
            matches!(
                pick(&g, 443, Some(sni)),
                Err(ConnectError::InvalidSni { .. })
            ),
            "{sni:?}"
        );
    }
}

#[test]
fn server_host_namespaces() {
    let cases = [
        ("a.example.com", "any", true),
        ("*/a.example.com", "any", true),
        ("./a.example.com", "edge", true),
        ("./a.example.com", "prod", false),
        ("prod/a.example.com", "prod", true),
        ("prod/a.example.com", "dev", false),
    ];
    for (host, vs_ns, want) in cases {
        let h = ServerHost::parse(host);
        assert_eq!(h.admits(vs_ns, "edge"), want, "{host} {vs_ns}");
        assert_eq!(h.host.to_text(), "a.example.com");
    }
}
