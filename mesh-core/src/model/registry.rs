//! Services and endpoints from ServiceEntry and WorkloadEntry (the registry a sidecar sees).

use std::collections::BTreeMap;

use crate::resource::{Resolution, ServiceEntrySpec, WorkloadEntrySpec};

use super::host::fqdn;

/// A service known from a ServiceEntry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// FQDN.
    pub host: String,
    /// Namespace of the entry.
    pub namespace: String,
    /// `ns/name` of the ServiceEntry.
    pub service_entry: String,
    /// Ports: (number, name, protocol, target port).
    pub ports: Vec<ServicePort>,
    /// Resolution (STATIC when unset? Istio: NONE).
    pub resolution: Resolution,
    /// Endpoints (inline or selected WorkloadEntries).
    pub endpoints: Vec<Endpoint>,
}

/// A service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// Number.
    pub number: u16,
    /// Name.
    pub name: String,
    /// Protocol.
    pub protocol: Option<String>,
    /// Target port.
    pub target_port: Option<u16>,
}

/// One endpoint of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// IP, hostname or unix path.
    pub address: String,
    /// Port name to endpoint port.
    pub ports: BTreeMap<String, u16>,
    /// Labels (subsets select on these).
    pub labels: BTreeMap<String, String>,
    /// LB weight (default 1).
    pub weight: u32,
    /// Service account (SPIFFE identity), when known.
    pub service_account: Option<String>,
    /// Locality.
    pub locality: Option<String>,
    /// `ns/name` of the WorkloadEntry it came from, if any.
    pub workload_entry: Option<String>,
}

// === impl Service ===

impl Service {
    /// Endpoints whose labels are a superset of `labels` (empty selects all).
    pub fn endpoints_for<'a>(
        &'a self,
        labels: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a Endpoint> + 'a {
        self.endpoints
            .iter()
            .filter(move |e| labels.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
    }

    /// The endpoint port for a service port number: the endpoint's own mapping by port name,
    /// else the target port, else the number itself.
    pub fn endpoint_port(&self, e: &Endpoint, number: u16) -> u16 {
        let p = self.ports.iter().find(|p| p.number == number);
        p.and_then(|p| e.ports.get(&p.name).copied())
            .or(p.and_then(|p| p.target_port))
            .unwrap_or(number)
    }
}

/// Builds services from one ServiceEntry, selecting WorkloadEntries of the same namespace.
pub fn services_of(
    se_name: &str,
    ns: &str,
    spec: &ServiceEntrySpec,
    workload_entries: &[(String, String, WorkloadEntrySpec)],
    cluster_domain: &str,
) -> Vec<Service> {
    let endpoints: Vec<Endpoint> = match &spec.workload_selector {
        Some(sel) => workload_entries
            .iter()
            .filter(|(wns, _, we)| {
                wns == ns && sel.labels.iter().all(|(k, v)| we.labels.get(k) == Some(v))
            })
            .map(|(wns, wname, we)| endpoint(we, Some(format!("{wns}/{wname}"))))
            .collect(),
        None => spec.endpoints.iter().map(|e| endpoint(e, None)).collect(),
    };
    let ports = spec
        .ports
        .iter()
        .filter_map(|p| {
            Some(ServicePort {
                number: u16::try_from(p.number).ok()?,
                name: p.name.clone(),
                protocol: p.protocol.clone(),
                target_port: p.target_port.and_then(|t| u16::try_from(t).ok()),
            })
        })
        .collect::<Vec<_>>();
    let resolution = spec.resolution.unwrap_or(Resolution::None);
    spec.hosts
        .iter()
        .map(|h| {
            let host = fqdn(h, ns, cluster_domain);
            Service {
                endpoints: match host_endpoint(&host, resolution, spec, &endpoints) {
                    Some(e) => vec![e],
                    None => endpoints.clone(),
                },
                host,
                namespace: ns.to_owned(),
                service_entry: se_name.to_owned(),
                ports: ports.clone(),
                resolution,
            }
        })
        .collect()
}

/// Istio: `resolution: DNS` (or `DNS_ROUND_ROBIN`) without endpoints or a workload selector
/// resolves the host itself, so the host is the service's one endpoint, on the service port
/// (validation already requires such hosts to be fully qualified; wildcards have no endpoint).
fn host_endpoint(
    host: &str,
    resolution: Resolution,
    spec: &ServiceEntrySpec,
    endpoints: &[Endpoint],
) -> Option<Endpoint> {
    let dns = matches!(resolution, Resolution::Dns | Resolution::DnsRoundRobin);
    if !dns || !endpoints.is_empty() || spec.workload_selector.is_some() || host.contains('*') {
        return None;
    }
    Some(Endpoint {
        address: host.to_owned(),
        ports: BTreeMap::new(),
        labels: BTreeMap::new(),
        weight: 1,
        service_account: None,
        locality: None,
        workload_entry: None,
    })
}

fn endpoint(we: &WorkloadEntrySpec, from: Option<String>) -> Endpoint {
    Endpoint {
        address: we.address.clone().unwrap_or_default(),
        ports: we
            .ports
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), u16::try_from(*v).ok()?)))
            .collect(),
        labels: we.labels.clone(),
        weight: we.weight.filter(|w| *w > 0).unwrap_or(1),
        service_account: we.service_account.clone(),
        locality: we.locality.clone(),
        workload_entry: from,
    }
}
