//! Traffic policy components: connection pool, outlier detection, port-level settings,
//! tunnel, PROXY protocol, retry budget and upstream TLS.

use super::expect;

#[test]
fn traffic_policy_shape_connection_pool_and_outlier() {
    let tp = |body: &str| format!("{{host: a, trafficPolicy: {body}}}");
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "{}",
            &[(
                "Error 4:17 spec.trafficPolicy",
                "trafficPolicy must have at least one field",
            )],
        ),
        (
            "{connectionPool: {}}",
            &[(
                "Error 4:33 spec.trafficPolicy.connectionPool",
                "connectionPool must set tcp or http",
            )],
        ),
        (
            "{connectionPool: {tcp: {maxConnections: -1}}}",
            &[(
                "Error 4:72 spec.trafficPolicy.connectionPool.tcp.maxConnections",
                "maxConnections must not be negative, got -1",
            )],
        ),
        (
            "{connectionPool: {tcp: {maxConnections: 3000000000}}}",
            &[(
                "Error 4:72 spec.trafficPolicy.connectionPool.tcp.maxConnections",
                "must be at most 2147483647, got 3000000000",
            )],
        ),
        (
            "{connectionPool: {http: {http1MaxPendingRequests: -2}}}",
            &[(
                "Error 4:82 spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests",
                "http1MaxPendingRequests must not be negative, got -2",
            )],
        ),
        (
            "{connectionPool: {http: {http2MaxRequests: -3}}}",
            &[(
                "Error 4:75 spec.trafficPolicy.connectionPool.http.http2MaxRequests",
                "got -3",
            )],
        ),
        (
            "{connectionPool: {http: {maxRequestsPerConnection: -4}}}",
            &[(
                "Error 4:83 spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection",
                "got -4",
            )],
        ),
        (
            "{connectionPool: {http: {maxRetries: -5}}}",
            &[(
                "Error 4:69 spec.trafficPolicy.connectionPool.http.maxRetries",
                "maxRetries must not be negative, got -5",
            )],
        ),
        (
            "{connectionPool: {http: {maxConcurrentStreams: -6}}}",
            &[(
                "Error 4:79 spec.trafficPolicy.connectionPool.http.maxConcurrentStreams",
                "got -6",
            )],
        ),
        (
            "{connectionPool: {tcp: {connectTimeout: 500us}}}",
            &[(
                "Error 4:72 spec.trafficPolicy.connectionPool.tcp.connectTimeout",
                "duration 500us must be at least 1ms",
            )],
        ),
        (
            "{connectionPool: {tcp: {maxConnectionDuration: 1.5ms}}}",
            &[(
                "Error 4:79 spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration",
                "must be a whole number of milliseconds",
            )],
        ),
        (
            "{connectionPool: {tcp: {tcpKeepalive: {time: 0s}}}}",
            &[(
                "Error 4:77 spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time",
                "duration 0s must be at least 1ms",
            )],
        ),
        (
            "{connectionPool: {tcp: {tcpKeepalive: {interval: 0s}}}}",
            &[(
                "Error 4:81 spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.interval",
                "duration 0s must be at least 1ms",
            )],
        ),
        (
            "{connectionPool: {http: {idleTimeout: 0s}}}",
            &[(
                "Error 4:70 spec.trafficPolicy.connectionPool.http.idleTimeout",
                "duration 0s must be at least 1ms",
            )],
        ),
        (
            "{connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}}",
            &[(
                "Error 4:102 spec.trafficPolicy.connectionPool.http.useClientProtocol",
                "contradicts h2UpgradePolicy: UPGRADE",
            )],
        ),
        // Security C-21: Envoy validates lte 100 and gt 0.
        (
            "{outlierDetection: {maxEjectionPercent: 150}}",
            &[(
                "Error 4:72 spec.trafficPolicy.outlierDetection.maxEjectionPercent",
                "maxEjectionPercent must be in range 0..100, got 150",
            )],
        ),
        (
            "{outlierDetection: {minHealthPercent: -1}}",
            &[(
                "Error 4:70 spec.trafficPolicy.outlierDetection.minHealthPercent",
                "got -1",
            )],
        ),
        (
            "{outlierDetection: {interval: 0s}}",
            &[(
                "Error 4:62 spec.trafficPolicy.outlierDetection.interval",
                "duration 0s must be at least 1ms",
            )],
        ),
        (
            "{outlierDetection: {baseEjectionTime: 0s}}",
            &[(
                "Error 4:70 spec.trafficPolicy.outlierDetection.baseEjectionTime",
                "duration 0s must be at least 1ms",
            )],
        ),
        (
            "{outlierDetection: {consecutiveLocalOriginFailures: 3}}",
            &[(
                "Error 4:84 spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
                "only counts when splitExternalLocalOriginErrors is true",
            )],
        ),
        (
            "{outlierDetection: {consecutiveErrors: 5}}",
            &[(
                "Warning 4:71 spec.trafficPolicy.outlierDetection.consecutiveErrors",
                "consecutiveErrors is deprecated and ignored",
            )],
        ),
    ];
    for (body, want) in cases {
        expect(&tp(body), want);
    }
}

#[test]
fn port_level_tunnel_proxy_protocol_retry_budget() {
    let tp = |body: &str| format!("{{host: a, trafficPolicy: {body}}}");
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "{portLevelSettings: [{tls: {mode: SIMPLE}}]}",
            &[(
                "Error 4:53 spec.trafficPolicy.portLevelSettings[0].port",
                "port-level settings need a port",
            )],
        ),
        (
            "{portLevelSettings: [{port: {number: 80}}]}",
            &[(
                "Error 4:53 spec.trafficPolicy.portLevelSettings[0]",
                "must set at least one of loadBalancer",
            )],
        ),
        (
            "{portLevelSettings: [{port: {number: 70000}, tls: {mode: SIMPLE}}]}",
            &[(
                "Error 4:69 spec.trafficPolicy.portLevelSettings[0].port.number",
                "port number 70000 must be in the range 1..65535",
            )],
        ),
        (
            "{portLevelSettings: [{port: {number: 80}, tls: {mode: SIMPLE}}, {port: {number: 80}, tls: {mode: SIMPLE}}]}",
            &[(
                "Error 4:112 spec.trafficPolicy.portLevelSettings[1].port.number",
                "port 80 already has settings in portLevelSettings[0]",
            )],
        ),
        (
            "{portLevelSettings: [{port: {number: 80}, connectionPool: {http: {maxRetries: -1}}}]}",
            &[(
                "Error 4:110 spec.trafficPolicy.portLevelSettings[0].connectionPool.http.maxRetries",
                "got -1",
            )],
        ),
        (
            "{tunnel: {targetHost: e.com, targetPort: 443}, proxyProtocol: {version: V1}}",
            &[(
                "Error 4:33 spec.trafficPolicy.tunnel",
                "tunnel and proxyProtocol must not be set together",
            )],
        ),
        (
            "{tunnel: {protocol: GET, targetHost: e.com, targetPort: 443}}",
            &[(
                "Error 4:52 spec.trafficPolicy.tunnel.protocol",
                "tunnel protocol must be CONNECT or POST, got \"GET\"",
            )],
        ),
        (
            "{tunnel: {targetPort: 443}}",
            &[(
                "Error 4:33 spec.trafficPolicy.tunnel.targetHost",
                "tunnel targetHost is required",
            )],
        ),
        (
            "{tunnel: {targetHost: 'bad host', targetPort: 443}}",
            &[(
                "Error 4:54 spec.trafficPolicy.tunnel.targetHost",
                "not a valid host name or IP address",
            )],
        ),
        (
            "{tunnel: {targetHost: 10.0.0.1}}",
            &[(
                "Error 4:33 spec.trafficPolicy.tunnel.targetPort",
                "tunnel targetPort: port number 0 must be in the range 1..65535",
            )],
        ),
        (
            "{proxyProtocol: {version: V3}}",
            &[(
                "Error 4:58 spec.trafficPolicy.proxyProtocol.version",
                "proxyProtocol version must be V1 or V2, got \"V3\"",
            )],
        ),
        (
            "{retryBudget: {percent: 120}}",
            &[(
                "Error 4:56 spec.trafficPolicy.retryBudget.percent",
                "retryBudget percent must be in range 0..100, got 120",
            )],
        ),
    ];
    for (body, want) in cases {
        expect(&tp(body), want);
    }
}

#[test]
fn client_tls() {
    let tls = |body: &str| format!("{{host: a, trafficPolicy: {{tls: {body}}}}}");
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "{mode: MUTUAL}",
            &[
                (
                    "Error 4:33 spec.trafficPolicy.tls.clientCertificate",
                    "MUTUAL TLS needs clientCertificate",
                ),
                (
                    "Error 4:33 spec.trafficPolicy.tls.privateKey",
                    "MUTUAL TLS needs privateKey",
                ),
            ],
        ),
        (
            "{mode: MUTUAL, credentialName: c, privateKey: /k.pem}",
            &[(
                "Error 4:84 spec.trafficPolicy.tls.privateKey",
                "privateKey cannot be combined with credentialName",
            )],
        ),
        (
            "{mode: SIMPLE, insecureSkipVerify: true, caCertificates: /ca.pem}",
            &[(
                "Error 4:73 spec.trafficPolicy.tls.insecureSkipVerify",
                "insecureSkipVerify: true cannot be combined with caCertificates, subjectAltNames or credentialName",
            )],
        ),
        (
            "{mode: MUTUAL, insecureSkipVerify: true, credentialName: c, subjectAltNames: [x]}",
            &[(
                "Error 4:73 spec.trafficPolicy.tls.insecureSkipVerify",
                "cannot be combined with caCertificates, subjectAltNames (",
            )],
        ),
        (
            "{caCertificates: /ca.pem}",
            &[(
                "Warning 4:33 spec.trafficPolicy.tls",
                "tls mode DISABLE sends plaintext; the certificate settings are ignored (mode defaults to DISABLE",
            )],
        ),
        (
            "{mode: ISTIO_MUTUAL, credentialName: c}",
            &[(
                "Warning 4:33 spec.trafficPolicy.tls",
                "ISTIO_MUTUAL uses the mesh certificates",
            )],
        ),
    ];
    for (body, want) in cases {
        expect(&tls(body), want);
    }
}
