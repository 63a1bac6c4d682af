//! Istio `ServiceEntry` and `WorkloadEntry`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `ServiceEntry.spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceEntrySpec {
    /// Hosts (short names expand in the entry's namespace).
    pub hosts: Vec<String>,
    /// Virtual IPs / CIDRs.
    pub addresses: Vec<String>,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// `MESH_EXTERNAL` or `MESH_INTERNAL`.
    pub location: Option<Location>,
    /// How endpoints are found.
    pub resolution: Option<Resolution>,
    /// Inline endpoints.
    pub endpoints: Vec<WorkloadEntrySpec>,
    /// WorkloadEntries selected by labels.
    pub workload_selector: Option<EntrySelector>,
    /// Visibility.
    pub export_to: Vec<String>,
    /// Accepted server SANs.
    pub subject_alt_names: Vec<String>,
}

/// `ServicePort`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    /// Port number.
    pub number: u32,
    /// Protocol.
    pub protocol: Option<String>,
    /// Unique name.
    pub name: String,
    /// Endpoint port when endpoints do not say.
    pub target_port: Option<u32>,
}

/// `ServiceEntry.Location`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Location {
    /// Outside the mesh.
    MeshExternal,
    /// Part of the mesh.
    MeshInternal,
}

/// `ServiceEntry.Resolution`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    /// Use the original destination.
    None,
    /// Endpoint addresses are IPs.
    Static,
    /// Resolve endpoint names (all addresses).
    Dns,
    /// Resolve and use the first address.
    DnsRoundRobin,
}

/// `WorkloadSelector` of a ServiceEntry (`labels`, not `matchLabels`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EntrySelector {
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// `WorkloadEntry.spec` (also a ServiceEntry endpoint).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadEntrySpec {
    /// IP, hostname or `unix://` path.
    pub address: Option<String>,
    /// Port name to endpoint port.
    pub ports: BTreeMap<String, u32>,
    /// Labels (subsets select on these).
    pub labels: BTreeMap<String, String>,
    /// Network.
    pub network: Option<String>,
    /// Locality `region/zone/subzone`.
    pub locality: Option<String>,
    /// LB weight.
    pub weight: Option<u32>,
    /// Service account (its SPIFFE identity).
    pub service_account: Option<String>,
}
