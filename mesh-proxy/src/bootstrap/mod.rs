//! The bootstrap file: who this proxy is and where it listens. YAML, read once at start, checked
//! strictly like the resources (an unknown field is an error with file, line and column).
//!
//! ```yaml
//! workload: { name: myapp-v1, namespace: production, serviceAccount: myapp,
//!             labels: { app: myapp, version: v1 } }
//! inbound: { listen: "0.0.0.0:15006", app: "127.0.0.1:8080" }
//! outbound: { listen: "127.0.0.1:15001" }
//! gateways: []
//! identity: { cert: certs/production.myapp.pem, key: certs/production.myapp.key,
//!             trustBundle: certs/ca.pem, trustDomain: cluster.local }
//! admin: { listen: "127.0.0.1:15000" }
//! limits: { maxRequestBodyBytes: 10485760, idleTimeout: 1h }   # optional
//! ```
//!
//! Relative identity paths are resolved against the bootstrap file's directory.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mesh_core::diag::{Diagnostic, Severity, Sources};
use mesh_core::path::FieldPath;
use mesh_core::security::identity::SpiffeId;
use serde::{Deserialize, Serialize};

/// The whole bootstrap file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// The workload this proxy serves.
    pub workload: WorkloadSpec,
    /// Traffic from other proxies to the local application.
    pub inbound: InboundSpec,
    /// Traffic from the local application (parsed; served by a later version).
    #[serde(default)]
    pub outbound: Option<OutboundSpec>,
    /// Gateway servers this proxy serves: each Gateway server port on its local address.
    #[serde(default)]
    pub gateways: Vec<GatewaySpec>,
    /// This proxy's certificate, key and trust bundle.
    pub identity: IdentitySpec,
    /// The admin listener (`/healthz`, `/ready`, `/metrics`, `/config_dump`).
    #[serde(default)]
    pub admin: Option<AdminSpec>,
    /// Optional request limits (`limits: {maxRequestBodyBytes: N}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsSpec>,
}

/// `limits`: bounds on what peers and local applications may send.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsSpec {
    /// Request bodies over this many bytes get 413, inbound and outbound. Unset: no limit
    /// (Envoy's default for streamed bodies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_body_bytes: Option<u64>,
    /// Downstream connections with no request in flight for this long are closed
    /// (Go duration; Istio's default `1h`; `0s` disables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<mesh_core::resource::Duration>,
}

/// `workload`: what selectors and `sourceLabels` match against.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// Workload (pod) name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Service account: the SPIFFE ID's `sa` segment.
    pub service_account: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `inbound`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundSpec {
    /// Where peers connect (`IP:PORT`).
    pub listen: SocketAddr,
    /// The local application (`IP:PORT`); its port is the workload port PeerAuthentication and
    /// AuthorizationPolicy `ports` refer to.
    pub app: SocketAddr,
}

/// `outbound`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundSpec {
    /// Where local applications send plain HTTP.
    pub listen: SocketAddr,
}

/// One entry of `gateways`: a Gateway resource and the local address of each server port.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// `namespace/name` of the Gateway resource.
    pub gateway: String,
    /// Server port number to local listen address.
    #[serde(default)]
    pub ports: BTreeMap<u16, SocketAddr>,
}

/// `identity`: PEM files and the trust domain.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentitySpec {
    /// Certificate chain (leaf first).
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Root certificates peers are verified against.
    pub trust_bundle: PathBuf,
    /// Local trust domain.
    #[serde(default = "default_trust_domain")]
    pub trust_domain: String,
}

/// `admin`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminSpec {
    /// Listen address.
    pub listen: SocketAddr,
}

/// A bootstrap file that cannot be used: every finding, positioned.
#[derive(Clone, Debug)]
pub struct InvalidBootstrap {
    /// The findings.
    pub diagnostics: Vec<Diagnostic>,
    /// The file's text, to render them.
    pub sources: Sources,
}

fn default_trust_domain() -> String {
    "cluster.local".into()
}

// === impl Bootstrap ===

impl Bootstrap {
    /// Reads and checks a bootstrap file; relative identity paths become relative to its
    /// directory.
    pub fn from_path(path: &Path) -> Result<Self, InvalidBootstrap> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            InvalidBootstrap::whole_file(&file, "", format!("cannot read the file: {e}"))
        })?;
        let mut b = Self::from_str(&file, &text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut b.identity.cert,
            &mut b.identity.key,
            &mut b.identity.trust_bundle,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(b)
    }

    /// Parses bootstrap text (`file` names it in diagnostics).
    pub fn from_str(file: &str, text: &str) -> Result<Self, InvalidBootstrap> {
        let docs = mesh_core::yaml::parse_documents(text).map_err(|e| {
            let mut inv = InvalidBootstrap::whole_file(file, text, e.message);
            inv.diagnostics[0].line = e.pos.line;
            inv.diagnostics[0].column = e.pos.column;
            inv
        })?;
        let node = match docs.as_slice() {
            [one] => one,
            _ => {
                return Err(InvalidBootstrap::whole_file(
                    file,
                    text,
                    format!("expected exactly one YAML document, found {}", docs.len()),
                ));
            }
        };
        let (value, issues) = mesh_core::load::convert::<Bootstrap>(node, false);
        let mut diagnostics: Vec<Diagnostic> = issues
            .into_iter()
            .map(|issue| {
                let pos = if issue.at_key {
                    node.locate(&issue.path)
                } else {
                    node.value_pos(&issue.path)
                        .unwrap_or_else(|| node.locate(&issue.path))
                };
                diag(
                    file,
                    pos.line,
                    pos.column,
                    &issue.path,
                    issue.severity,
                    issue.message,
                )
            })
            .collect();
        if let Some(b) = &value {
            for (path, message) in b.check() {
                let pos = node.locate(&path);
                diagnostics.push(diag(
                    file,
                    pos.line,
                    pos.column,
                    &path,
                    Severity::Error,
                    message,
                ));
            }
        }
        match value {
            Some(b) if !mesh_core::diag::has_errors(&diagnostics) => Ok(b),
            _ => {
                let mut sources = Sources::default();
                sources.insert(file, text);
                Err(InvalidBootstrap {
                    diagnostics,
                    sources,
                })
            }
        }
    }

    /// Semantic checks beyond the schema.
    fn check(&self) -> Vec<(FieldPath, String)> {
        let mut out = Vec::new();
        let root = FieldPath::default();
        let w = &self.workload;
        if let Err(e) = SpiffeId::new(
            &self.identity.trust_domain,
            &w.namespace,
            &w.service_account,
        ) {
            out.push((
                root.key("workload"),
                format!("workload namespace/serviceAccount and identity.trustDomain do not make a SPIFFE ID: {e}"),
            ));
        }
        if w.name.is_empty() {
            out.push((root.key("workload").key("name"), "must not be empty".into()));
        }
        if let Some(l) = &self.limits
            && l.max_request_body_bytes == Some(0)
        {
            out.push((
                root.key("limits").key("maxRequestBodyBytes"),
                "must be at least 1 (omit it for no limit)".into(),
            ));
        }
        for (i, g) in self.gateways.iter().enumerate() {
            if g.gateway
                .split_once('/')
                .is_none_or(|(ns, n)| ns.is_empty() || n.is_empty())
            {
                out.push((
                    root.key("gateways").index(i).key("gateway"),
                    format!("{:?} is not namespace/name", g.gateway),
                ));
            }
        }
        out
    }

    /// The workload as the policy engines see it.
    pub fn workload(&self) -> mesh_core::Workload {
        mesh_core::Workload {
            namespace: self.workload.namespace.clone(),
            name: self.workload.name.clone(),
            labels: self.workload.labels.clone(),
        }
    }

    /// This proxy's SPIFFE ID (checked when the file was read).
    pub fn spiffe_id(&self) -> Option<SpiffeId> {
        SpiffeId::new(
            &self.identity.trust_domain,
            &self.workload.namespace,
            &self.workload.service_account,
        )
        .ok()
    }
}

fn diag(
    file: &str,
    line: u32,
    column: u32,
    path: &FieldPath,
    severity: Severity,
    message: String,
) -> Diagnostic {
    Diagnostic {
        severity,
        file: file.to_owned(),
        line,
        column,
        resource: Some("bootstrap".into()),
        path: if path.is_root() {
            String::new()
        } else {
            path.to_string()
        },
        message,
    }
}

// === impl InvalidBootstrap ===

impl InvalidBootstrap {
    fn whole_file(file: &str, text: &str, message: String) -> Self {
        let mut sources = Sources::default();
        sources.insert(file, text);
        InvalidBootstrap {
            diagnostics: vec![diag(
                file,
                0,
                0,
                &FieldPath::default(),
                Severity::Error,
                message,
            )],
            sources,
        }
    }
}

impl fmt::Display for InvalidBootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            f.write_str(&d.render(&self.sources))?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidBootstrap {}

#[cfg(test)]
mod tests;
