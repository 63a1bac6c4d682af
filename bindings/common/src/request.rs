//! The request schema shared by the three bindings: the flags of `mesh-proxy explain`, by the
//! same names.

use std::collections::BTreeMap;

use mesh_core::explain::{ExplainRequest, ProxyScope, SourceFacts};
use mesh_core::model::Workload;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::RequestError;

/// A request to evaluate. Unknown fields are rejected, so a misspelt field never passes as
/// its default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Method; `GET` when absent.
    #[serde(default = "get")]
    pub method: String,
    /// Absolute URL (`http://host[:port]/path?query`), or a path with a `host` header.
    pub url: String,
    /// Headers, as a mapping or as a list of `[name, value]` pairs (for repeated names).
    #[serde(default)]
    pub headers: Headers,
    /// The client workload whose sidecar routes the request, `NS/NAME`.
    #[serde(default = "default_workload")]
    pub workload: String,
    /// The client workload's labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Evaluate at this gateway (`NS/NAME`) instead of a sidecar; needs `port`.
    #[serde(default)]
    pub gateway: Option<String>,
    /// The gateway server port.
    #[serde(default)]
    pub port: Option<u16>,
    /// The peer principal (kept only with `mtls`).
    #[serde(default)]
    pub source_principal: Option<String>,
    /// The peer namespace (kept only with `mtls`).
    #[serde(default)]
    pub source_namespace: Option<String>,
    /// The peer IP.
    #[serde(default)]
    pub source_ip: Option<String>,
    /// The connection is mutual TLS.
    #[serde(default)]
    pub mtls: bool,
    /// The workload receiving the request (`NS/NAME`), for the `mtls` and `authz` keys;
    /// absent: the sidecar's own workload.
    #[serde(default)]
    pub destination_workload: Option<String>,
    /// The receiving workload's labels.
    #[serde(default)]
    pub destination_labels: BTreeMap<String, String>,
    /// Seed for the weighted picks.
    #[serde(default)]
    pub seed: u64,
}

/// `NS/NAME` with labels as a workload.
pub(crate) fn workload(
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Workload, RequestError> {
    workload_owned(name, labels.clone())
}

/// `NS/NAME` with labels as a workload, the labels moved in.
fn workload_owned(name: &str, labels: BTreeMap<String, String>) -> Result<Workload, RequestError> {
    match name.split_once('/') {
        Some((ns, n)) if !ns.is_empty() && !n.is_empty() && !n.contains('/') => Ok(Workload {
            namespace: ns.to_owned(),
            name: n.to_owned(),
            labels,
        }),
        _ => Err(RequestError::Workload(name.to_owned())),
    }
}

/// Request headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Headers {
    /// `{"name": "value"}`.
    Map(BTreeMap<String, String>),
    /// `[["name", "value"], ...]`, names may repeat.
    List(Vec<(String, String)>),
}

fn get() -> String {
    "GET".to_owned()
}

fn default_workload() -> String {
    "default/client".to_owned()
}

// === impl Headers ===

impl Default for Headers {
    fn default() -> Self {
        Headers::List(Vec::new())
    }
}

// A visitor rather than `#[serde(untagged)]`: no buffering of the value, and an error that
// says what is expected.
impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;

        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = Headers;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of header names to values or a list of [name, value] pairs")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if out.insert(k.clone(), v).is_some() {
                        return Err(de::Error::custom(format!("header {k:?} given twice")));
                    }
                }
                Ok(Headers::Map(out))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Headers, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(pair) = seq.next_element::<(String, String)>()? {
                    out.push(pair);
                }
                Ok(Headers::List(out))
            }
        }

        d.deserialize_any(HeadersVisitor)
    }
}

impl Headers {
    fn pairs(&self) -> Vec<(String, String)> {
        match self {
            Headers::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Headers::List(l) => l.clone(),
        }
    }

    fn into_pairs(self) -> Vec<(String, String)> {
        match self {
            Headers::Map(m) => m.into_iter().collect(),
            Headers::List(l) => l,
        }
    }
}

// === impl RequestSpec ===

impl RequestSpec {
    /// A `GET` of `url` from the default client workload.
    pub fn get(url: &str) -> Self {
        RequestSpec {
            method: get(),
            url: url.to_owned(),
            workload: default_workload(),
            ..RequestSpec::default()
        }
    }

    /// Parses the JSON form (the C and Node bindings' input). The error names the field.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        let spec = Self::deserialize_named(&mut de)?;
        de.end().map_err(|e| e.to_string())?;
        Ok(spec)
    }

    /// Deserializes from any serde format (a Python dict through pythonize, ...); the error
    /// message starts with the path of the offending field (`seed: invalid type ...`).
    pub fn deserialize_named<'de, D: Deserializer<'de>>(d: D) -> Result<Self, String> {
        serde_path_to_error::deserialize(d).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.into_inner().to_string()
            } else {
                format!("{path}: {}", e.into_inner())
            }
        })
    }

    /// The mesh-core request: a sidecar of `workload`, or `gateway` at `port`.
    pub fn to_explain_request(&self) -> Result<ExplainRequest, RequestError> {
        let scope = match (&self.gateway, self.port) {
            (Some(gateway), Some(port)) => ProxyScope::Gateway {
                gateway: gateway.clone(),
                port,
            },
            (None, None) => ProxyScope::Sidecar(workload(&self.workload, &self.labels)?),
            _ => return Err(RequestError::GatewayPort),
        };
        Ok(ExplainRequest {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.pairs(),
            scope,
            source: SourceFacts {
                principal: self.source_principal.clone(),
                namespace: self.source_namespace.clone(),
                ip: self.source_ip.clone(),
                mtls: self.mtls,
            },
            destination: self
                .destination_workload
                .as_deref()
                .map(|w| workload(w, &self.destination_labels))
                .transpose()?,
            seed: self.seed,
        })
    }

    /// [`to_explain_request`](Self::to_explain_request) moving the strings, headers and labels
    /// over instead of copying them (the per-call path of the Node binding).
    pub fn into_explain_request(self) -> Result<ExplainRequest, RequestError> {
        let scope = match (self.gateway, self.port) {
            (Some(gateway), Some(port)) => ProxyScope::Gateway { gateway, port },
            (None, None) => ProxyScope::Sidecar(workload_owned(&self.workload, self.labels)?),
            _ => return Err(RequestError::GatewayPort),
        };
        let destination = match self.destination_workload {
            Some(w) => Some(workload_owned(&w, self.destination_labels)?),
            None => None,
        };
        Ok(ExplainRequest {
            method: self.method,
            url: self.url,
            headers: self.headers.into_pairs(),
            scope,
            source: SourceFacts {
                principal: self.source_principal,
                namespace: self.source_namespace,
                ip: self.source_ip,
                mtls: self.mtls,
            },
            destination,
            seed: self.seed,
        })
    }
}
