//! WorkloadEntry rules (also those of inline ServiceEntry endpoints).

use super::expect;

#[test]
fn workload_entries() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "{labels: {app: a}}",
            &[(
                "Error 4:1 spec.address",
                "address is required (an IP address, a host name or a unix:// path)",
            )],
        ),
        (
            "{network: net-2}",
            &[(
                "Warning 4:1 spec.address",
                "address is unset: the workload is reached through the gateway of network \"net-2\"",
            )],
        ),
        (
            "{address: 'unix://run/a.sock'}",
            &[(
                "Error 4:17 spec.address",
                "unix socket path \"run/a.sock\" is not an absolute path",
            )],
        ),
        (
            "{address: 1.2.3}",
            &[(
                "Error 4:17 spec.address",
                "the top-level label \"3\" is all digits",
            )],
        ),
        (
            "{address: 10.0.0.1, ports: {http: 0}}",
            &[(
                "Error 4:41 spec.ports.http",
                "port number 0 must be in the range 1..65535",
            )],
        ),
        (
            "{address: 10.0.0.1, ports: {HTTP: 80}}",
            &[(
                "Error 4:41 spec.ports.HTTP",
                "port name \"HTTP\" is not a valid DNS-1123 label",
            )],
        ),
        (
            "{address: 10.0.0.1, serviceAccount: Bad_SA}",
            &[(
                "Error 4:43 spec.serviceAccount",
                "serviceAccount \"Bad_SA\" is not a valid service account name",
            )],
        ),
        (
            "{address: 10.0.0.1, locality: 'us//z1'}",
            &[(
                "Error 4:37 spec.locality",
                "locality \"us//z1\" must be region, region/zone or region/zone/subzone",
            )],
        ),
        (
            "{address: 10.0.0.1, labels: {'a/b/c': x}}",
            &[(
                "Error 4:45 spec.labels[\"a/b/c\"]",
                "label key \"a/b/c\" is invalid",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect("WorkloadEntry", spec, want);
    }
}
