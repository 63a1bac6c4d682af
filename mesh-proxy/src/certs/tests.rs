use mesh_core::security::identity::{SvidRole, svid_from_der};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::*;

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[test]
fn workload_cert_carries_the_spiffe_id_for_both_roles() {
    let ca = DevCa::new("cluster.local").unwrap();
    let c = ca
        .issue_workload("cluster.local", "production/frontend")
        .unwrap();
    let d = der(&c.cert_pem);
    for role in [SvidRole::Client, SvidRole::Server] {
        let id = svid_from_der(&d, role).unwrap();
        assert_eq!(id.principal(), "cluster.local/ns/production/sa/frontend");
    }
}

#[test]
fn the_root_is_a_ca_and_not_an_svid() {
    let ca = DevCa::new("cluster.local").unwrap();
    assert!(svid_from_der(&der(ca.cert_pem()), SvidRole::Client).is_err());
}

#[test]
fn bad_workloads_are_named() {
    let ca = DevCa::new("cluster.local").unwrap();
    let e = ca.issue_workload("cluster.local", "frontend").unwrap_err();
    assert!(e.to_string().contains("frontend"), "{e}");
    assert!(ca.issue_workload("cluster.local", "ns/a b").is_err());
    assert!(DevCa::new("Bad Domain").is_err());
}

#[test]
fn write_dir_writes_parsable_pem_files() {
    let dir = std::env::temp_dir().join(format!("mesh-certs-{}", std::process::id()));
    let w = write_dir(&dir, "cluster.local", &["prod/a".into(), "prod/b".into()]).unwrap();
    assert_eq!(w.workloads.len(), 2);
    let pem = std::fs::read_to_string(&w.workloads[1].1).unwrap();
    let id = svid_from_der(&der(&pem), SvidRole::Client).unwrap();
    assert_eq!(id.principal(), "cluster.local/ns/prod/sa/b");
    let key = std::fs::read(&w.workloads[1].2).unwrap();
    assert!(rustls_pki_types::PrivateKeyDer::from_pem_slice(&key).is_ok());
    assert!(
        std::fs::read_to_string(&w.ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
