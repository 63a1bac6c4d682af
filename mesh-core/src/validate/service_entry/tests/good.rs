//! Valid entries produce no diagnostics.

use super::expect;
use crate::{LoadOptions, Loaded};

/// ServiceEntries and WorkloadEntries using most fields, all valid.
const GOOD: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: prod}
spec:
  hosts: [api.example.com, "*.api.example.com"]
  addresses: [240.0.0.1, "2001:db8::/32"]
  exportTo: ["~"]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: 443, name: https, protocol: TLS}
  - {number: 80, name: http, protocol: http, targetPort: 8080}
  endpoints:
  - address: 10.0.0.1
    ports: {https: 8443}
    labels: {version: v1}
    locality: us-east/zone1
    weight: 2
  - {address: "2001:db8::1", network: net-1, serviceAccount: api-sa}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
  resolution: DNS
  endpoints: [{address: db1.example.com}, {address: 10.0.0.9}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db-rr}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: tcp-pg}]
  resolution: DNS_ROUND_ROBIN
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: local}
spec:
  hosts: [local.example.com]
  ports: [{number: 80, name: http}]
  resolution: STATIC
  endpoints: [{address: "unix:///var/run/app.sock"}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms}
spec:
  hosts: [vm.svc]
  ports: [{number: 80, name: http}]
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wiki}
spec:
  hosts: ["*.wiki.org", a.org]
  addresses: [10.0.0.0/8]
  ports: [{number: 3306, name: mysql, protocol: MYSQL}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1}
spec:
  address: 10.0.0.1
  ports: {http: 8080}
  labels: {app: vm, example.com/tier: web}
  serviceAccount: vm-sa
  locality: us-east/zone1/sub
  weight: 3
  network: n1
"#;

#[test]
fn good_entries_are_clean() {
    let l = Loaded::from_str("t.yaml", GOOD, LoadOptions::default());
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    assert_eq!(l.resources.len(), 7);
    for spec in [
        "{address: vm.example.com}",
        "{address: 'unix:///var/run/app.sock'}",
        "{address: 'unix://@abstract'}",
    ] {
        expect("WorkloadEntry", spec, &[]);
    }
}
