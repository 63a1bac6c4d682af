//! Development certificates (`mesh-proxy certs`): a self-signed root CA and workload leaf
//! certificates whose single URI SAN is the workload's SPIFFE ID
//! (`spiffe://<td>/ns/<ns>/sa/<sa>`), usable as both TLS server and client (serverAuth and
//! clientAuth), as PEM. For demos and tests only: keys are written unencrypted.

use std::path::{Path, PathBuf};

use mesh_core::security::identity::{InvalidSpiffeId, SpiffeId};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, string::Ia5String,
};

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The workload is not `NS/SA`, or makes an invalid SPIFFE ID with the trust domain.
    #[error("workload {workload:?}: {problem}")]
    Workload {
        /// The workload as given.
        workload: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The trust domain or the resulting ID is not a valid SPIFFE ID.
    #[error("invalid SPIFFE ID: {0}")]
    SpiffeId(#[from] InvalidSpiffeId),
    /// Key generation or signing failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A development root CA that signs workload certificates.
pub struct DevCa {
    key: KeyPair,
    params: CertificateParams,
    pem: String,
}

/// A workload certificate and its private key, as PEM.
#[derive(Clone, Debug)]
pub struct WorkloadCert {
    /// The identity in the URI SAN.
    pub id: SpiffeId,
    /// The leaf certificate (PEM).
    pub cert_pem: String,
    /// The PKCS#8 private key (PEM).
    pub key_pem: String,
}

// === impl DevCa ===

impl DevCa {
    /// A fresh root CA named after the trust domain.
    pub fn new(trust_domain: &str) -> Result<Self, CertError> {
        // Validates the trust domain the same way workload IDs will be.
        SpiffeId::new(trust_domain, "default", "default")?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "mesh development CA");
        dn.push(
            DnType::CommonName,
            format!("mesh root CA for {trust_domain}"),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key)?;
        Ok(DevCa {
            pem: cert.pem(),
            key,
            params,
        })
    }

    /// The root certificate (the trust bundle), as PEM.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// Issues a leaf for `id`: its SPIFFE ID as the only URI SAN, `CA:FALSE`, digital
    /// signature key usage, serverAuth + clientAuth.
    pub fn issue(&self, id: &SpiffeId) -> Result<WorkloadCert, CertError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let uri = Ia5String::try_from(id.to_string())?;
        params.subject_alt_names = vec![SanType::URI(uri)];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "mesh workload");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(WorkloadCert {
            id: id.clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Issues a leaf for `NS/SA` in `trust_domain`.
    pub fn issue_workload(
        &self,
        trust_domain: &str,
        workload: &str,
    ) -> Result<WorkloadCert, CertError> {
        let (ns, sa) = workload
            .split_once('/')
            .ok_or_else(|| CertError::Workload {
                workload: workload.to_owned(),
                problem: "expected NAMESPACE/SERVICE_ACCOUNT".into(),
            })?;
        let id = SpiffeId::new(trust_domain, ns, sa).map_err(|e| CertError::Workload {
            workload: workload.to_owned(),
            problem: e.to_string(),
        })?;
        self.issue(&id)
    }
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa").finish_non_exhaustive()
    }
}

/// What [`write_dir`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `ca.pem`, the trust bundle.
    pub ca: PathBuf,
    /// Per workload: `(id, cert path, key path)`; files are `<ns>.<sa>.pem` / `<ns>.<sa>.key`.
    pub workloads: Vec<(SpiffeId, PathBuf, PathBuf)>,
}

/// Makes a CA and one certificate per `NS/SA` workload and writes them under `out`: `ca.pem`,
/// and `<ns>.<sa>.pem` + `<ns>.<sa>.key` per workload. All inputs are checked before anything
/// is written.
pub fn write_dir(
    out: &Path,
    trust_domain: &str,
    workloads: &[String],
) -> Result<Written, CertError> {
    let ca = DevCa::new(trust_domain)?;
    let certs = workloads
        .iter()
        .map(|w| ca.issue_workload(trust_domain, w))
        .collect::<Result<Vec<_>, _>>()?;
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text)
            .map(|()| path.clone())
            .map_err(|source| CertError::Write { path, source })
    };
    std::fs::create_dir_all(out).map_err(|source| CertError::Write {
        path: out.to_owned(),
        source,
    })?;
    let ca_path = write(out.join("ca.pem"), ca.cert_pem())?;
    let mut written = Vec::new();
    for c in certs {
        let stem = format!("{}.{}", c.id.namespace(), c.id.service_account());
        let cert = write(out.join(format!("{stem}.pem")), &c.cert_pem)?;
        let key = write(out.join(format!("{stem}.key")), &c.key_pem)?;
        written.push((c.id, cert, key));
    }
    Ok(Written {
        ca: ca_path,
        workloads: written,
    })
}

#[cfg(test)]
mod tests;
