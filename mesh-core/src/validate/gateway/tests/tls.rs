//! TLS presence by protocol, and the server TLS settings.

use super::{HTTP, HTTPS, TLS, expect, one};

#[test]
fn tls_by_protocol() {
    let cases: &[(String, &[(&str, &str)])] = &[
        (
            one(HTTPS, "hosts: ['*']"),
            &[(
                "Error 4:62 spec.servers[0].port.protocol",
                "a server with protocol HTTPS needs tls settings",
            )],
        ),
        (
            one(TLS, "hosts: ['*']"),
            &[(
                "Error 4:62 spec.servers[0].port.protocol",
                "a server with protocol TLS needs tls settings",
            )],
        ),
        (
            one(HTTP, "hosts: ['*'], tls: {mode: SIMPLE, credentialName: c}"),
            &[(
                "Error 4:81 spec.servers[0].tls",
                "a plain-text HTTP server can only carry tls.httpsRedirect",
            )],
        ),
        (
            one(HTTP, "hosts: ['*'], tls: {credentialName: c}"),
            &[
                (
                    "Warning 4:81 spec.servers[0].tls",
                    "mode PASSTHROUGH does not terminate TLS",
                ),
                (
                    "Error 4:81 spec.servers[0].tls",
                    "a plain-text HTTP server can only carry tls.httpsRedirect",
                ),
            ],
        ),
        (
            one(
                "{number: 27017, name: mongo, protocol: MONGO}",
                "hosts: ['*'], tls: {mode: SIMPLE, credentialName: c}",
            ),
            &[(
                "Error 4:86 spec.servers[0].tls",
                "a server with protocol MONGO cannot have tls settings",
            )],
        ),
        (
            one(
                HTTPS,
                "hosts: ['*'], tls: {mode: SIMPLE, credentialName: c, httpsRedirect: true}",
            ),
            &[(
                "Warning 4:138 spec.servers[0].tls.httpsRedirect",
                "httpsRedirect only has an effect on HTTP servers, not HTTPS",
            )],
        ),
        (
            one(HTTPS, "hosts: ['*'], tls: {mode: AUTO_PASSTHROUGH}"),
            &[(
                "Error 4:96 spec.servers[0].tls.mode",
                "AUTO_PASSTHROUGH needs port protocol TLS, not HTTPS",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect(spec, want);
    }
}

#[test]
fn tls_settings() {
    let tls = |body: &str| one(HTTPS, &format!("hosts: ['*'], tls: {body}"));
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "{mode: SIMPLE}",
            &[(
                "Error 4:84 spec.servers[0].tls",
                "SIMPLE TLS needs a certificate: set credentialName",
            )],
        ),
        (
            "{mode: SIMPLE, credentialName: c, serverCertificate: /c.pem, privateKey: /k.pem}",
            &[(
                "Error 4:84 spec.servers[0].tls",
                "set exactly one certificate source, found credentialName and serverCertificate/privateKey",
            )],
        ),
        (
            "{mode: SIMPLE, serverCertificate: /c.pem}",
            &[(
                "Error 4:84 spec.servers[0].tls.privateKey",
                "SIMPLE TLS with serverCertificate also needs privateKey",
            )],
        ),
        (
            "{mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem}",
            &[(
                "Error 4:84 spec.servers[0].tls.caCertificates",
                "MUTUAL TLS needs caCertificates to verify client certificates",
            )],
        ),
        (
            "{mode: ISTIO_MUTUAL, credentialName: c}",
            &[(
                "Error 4:126 spec.servers[0].tls.credentialName",
                "ISTIO_MUTUAL uses the mesh certificates; remove credentialName",
            )],
        ),
        (
            "{mode: PASSTHROUGH, serverCertificate: /c.pem}",
            &[(
                "Warning 4:84 spec.servers[0].tls",
                "mode PASSTHROUGH does not terminate TLS, so the certificate settings are ignored",
            )],
        ),
        (
            "{mode: SIMPLE, credentialNames: [a, b, c]}",
            &[(
                "Error 4:104 spec.servers[0].tls.credentialNames",
                "at most 2 credentialNames (one RSA, one ECDSA), found 3",
            )],
        ),
        (
            "{mode: SIMPLE, credentialNames: [a, '']}",
            &[(
                "Error 4:125 spec.servers[0].tls.credentialNames[1]",
                "credential name must not be empty",
            )],
        ),
        (
            "{mode: SIMPLE, tlsCertificates: [{serverCertificate: /c.pem}]}",
            &[(
                "Error 4:122 spec.servers[0].tls.tlsCertificates[0].privateKey",
                "tlsCertificates entry needs privateKey",
            )],
        ),
        (
            "{mode: SIMPLE, credentialName: c, minProtocolVersion: TLSV1_3, maxProtocolVersion: TLSV1_2}",
            &[(
                "Error 4:143 spec.servers[0].tls.minProtocolVersion",
                "minProtocolVersion TLSV1_3 is above maxProtocolVersion TLSV1_2",
            )],
        ),
        (
            "{mode: SIMPLE, credentialName: c, minProtocolVersion: TLSV1_0}",
            &[(
                "Warning 4:143 spec.servers[0].tls.minProtocolVersion",
                "minProtocolVersion TLSV1_0 needs cipherSuites",
            )],
        ),
        (
            "{mode: SIMPLE, credentialName: c, cipherSuites: [AES128-SHA, RC4-MD5, AES128-SHA]}",
            &[
                (
                    "Warning 4:150 spec.servers[0].tls.cipherSuites[1]",
                    "unknown cipher suite \"RC4-MD5\" is ignored",
                ),
                (
                    "Warning 4:159 spec.servers[0].tls.cipherSuites[2]",
                    "duplicate cipher suite \"AES128-SHA\" is ignored",
                ),
            ],
        ),
        (
            "{mode: MUTUAL, credentialName: c, caCrl: /crl.pem}",
            &[(
                "Error 4:130 spec.servers[0].tls.caCrl",
                "caCrl cannot be used with credentialName",
            )],
        ),
        (
            "{mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem, caCrl: /crl.pem}",
            &[(
                "Error 4:158 spec.servers[0].tls.caCrl",
                "caCrl has no use with SIMPLE TLS",
            )],
        ),
    ];
    for (body, want) in cases {
        expect(&tls(body), want);
    }
}
