//! The compiled model: one immutable snapshot built from a set of resources.

pub mod destination;
pub mod host;
pub mod registry;
mod routes;
mod security;

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Diagnostic, Sources};
use crate::load::{Loaded, to_diagnostic};
use crate::path::FieldPath;
use crate::profile::{CompiledProfile, CompiledSplit};
use crate::resource::{GatewaySpec, Resource, Spec};
use crate::route::compile::{CompiledVs, compile_vs};
use crate::validate::{Issue, Report};

pub use self::destination::{DestinationPolicy, DrEntry};
pub use self::registry::{Endpoint, Service};
pub use self::routes::HostResolution;

/// Mesh-wide settings (Istio MeshConfig parts the engines read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshConfig {
    /// Cluster DNS domain (`cluster.local`).
    pub cluster_domain: String,
    /// Istio root namespace (`istio-system`): mesh-wide policies live here.
    pub root_namespace: String,
    /// `pathNormalization.normalization` (default `BASE`), applied before routing and authz.
    pub path_normalization: crate::security::normalize::PathNormalization,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            cluster_domain: "cluster.local".to_owned(),
            root_namespace: "istio-system".to_owned(),
            path_normalization: crate::security::normalize::PathNormalization::default(),
        }
    }
}

/// The workload a sidecar runs beside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels (what selectors and `sourceLabels` match).
    pub labels: BTreeMap<String, String>,
}

/// A Gateway in the snapshot.
#[derive(Clone, Debug)]
pub struct GatewayEntry {
    /// `ns/name`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// The spec.
    pub spec: GatewaySpec,
}

/// A configuration that failed validation: every diagnostic, errors and warnings.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the mesh configuration has {} error(s)", self.diagnostics.iter().filter(|d| d.is_error()).count())]
pub struct InvalidConfig {
    /// All findings.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of the files, for rendering.
    pub sources: Sources,
}

/// An immutable, validated snapshot of the mesh.
#[derive(Clone, Debug)]
pub struct Mesh {
    config: MeshConfig,
    resources: Vec<Resource>,
    virtual_services: Vec<CompiledVs>,
    destination_rules: Vec<DrEntry>,
    gateways: Vec<GatewayEntry>,
    services: Vec<Service>,
    profiles: Vec<CompiledProfile>,
    splits: Vec<CompiledSplit>,
    known_hosts: BTreeSet<String>,
}

// === impl Mesh ===

impl Mesh {
    /// Builds a snapshot from loaded resources. Fails closed: any error, from loading or from
    /// building, rejects the whole set. Warnings are returned beside the mesh.
    pub fn from_loaded(
        loaded: Loaded,
        config: MeshConfig,
    ) -> Result<(Mesh, Vec<Diagnostic>), InvalidConfig> {
        let mut diagnostics = loaded.diagnostics;
        if crate::diag::has_errors(&diagnostics) {
            return Err(InvalidConfig {
                diagnostics,
                sources: loaded.sources,
            });
        }
        let (mesh, more) = Mesh::build(loaded.resources, config);
        diagnostics.extend(more);
        diagnostics.sort();
        if crate::diag::has_errors(&diagnostics) {
            return Err(InvalidConfig {
                diagnostics,
                sources: loaded.sources,
            });
        }
        Ok((mesh, diagnostics))
    }

    /// Loads YAML text and builds a snapshot (strict: unknown fields are errors).
    pub fn from_yaml(file: &str, text: &str) -> Result<(Mesh, Vec<Diagnostic>), InvalidConfig> {
        let loaded = Loaded::from_str(file, text, crate::LoadOptions::default());
        Mesh::from_loaded(loaded, MeshConfig::default())
    }

    /// Builds a snapshot from resources that passed validation, returning the model-level
    /// findings (unknown subsets or gateways, VirtualServices shadowed by older ones, anything
    /// the engines cannot enforce).
    pub fn build(mut resources: Vec<Resource>, config: MeshConfig) -> (Mesh, Vec<Diagnostic>) {
        // Oldest first: creationTimestamp, then load order (resources without a timestamp
        // count as older, in the order they were read).
        resources.sort_by(|a, b| {
            (a.meta.creation_timestamp.as_deref().unwrap_or(""), a.seq)
                .cmp(&(b.meta.creation_timestamp.as_deref().unwrap_or(""), b.seq))
        });
        let mut diags = Vec::new();
        let domain = config.cluster_domain.clone();
        let mut mesh = Mesh {
            config,
            resources: Vec::new(),
            virtual_services: Vec::new(),
            destination_rules: Vec::new(),
            gateways: Vec::new(),
            services: Vec::new(),
            profiles: Vec::new(),
            splits: Vec::new(),
            known_hosts: BTreeSet::new(),
        };
        let workload_entries: Vec<_> = resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::WorkloadEntry(we) => {
                    Some((r.namespace().to_owned(), r.name().to_owned(), we.clone()))
                }
                _ => None,
            })
            .collect();
        for res in &resources {
            let mut report = Report::new();
            mesh.add(res, &domain, &workload_entries, &mut report);
            push_issues(&mut diags, res, report);
        }
        mesh.known_hosts = mesh.collect_known_hosts();
        for res in &resources {
            let mut report = Report::new();
            mesh.cross_check(res, &mut report);
            push_issues(&mut diags, res, report);
        }
        security::check(&resources, &mesh.config.root_namespace, &mut diags);
        mesh.resources = resources;
        (mesh, diags)
    }

    fn add(
        &mut self,
        res: &Resource,
        domain: &str,
        wes: &[(String, String, crate::resource::WorkloadEntrySpec)],
        report: &mut Report,
    ) {
        let ns = res.namespace().to_owned();
        let name = format!("{ns}/{}", res.name());
        let created = (
            res.meta.creation_timestamp.clone().unwrap_or_default(),
            res.seq,
        );
        match &res.spec {
            Spec::VirtualService(s) => {
                self.virtual_services
                    .push(compile_vs(res, s, domain, report));
            }
            Spec::DestinationRule(s) => self.destination_rules.push(DrEntry {
                name,
                host: host::HostPattern::new(&host::fqdn(&s.host, &ns, domain)),
                namespace: ns,
                spec: s.clone(),
                export_to: if s.export_to.is_empty() {
                    vec!["*".to_owned()]
                } else {
                    s.export_to.clone()
                },
                created,
            }),
            Spec::Gateway(s) => self.gateways.push(GatewayEntry {
                name,
                namespace: ns,
                spec: s.clone(),
            }),
            Spec::ServiceEntry(s) => self
                .services
                .extend(registry::services_of(&name, &ns, s, wes, domain)),
            Spec::ServiceProfile(s) => self.profiles.push(CompiledProfile::compile(res, s)),
            Spec::TrafficSplit(s) => {
                if !s.matches.is_empty() {
                    // SMI v1alpha3+: only requests matching the HTTPRouteGroups are split. mesh
                    // does not load HTTPRouteGroups yet; splitting everything would be wrong.
                    report.error(
                        &FieldPath::root().key("spec").key("matches"),
                        "TrafficSplit matches (HTTPRouteGroup) are not supported by mesh yet; \
                         remove them to split all traffic to the apex",
                    );
                }
                self.splits.push(CompiledSplit::compile(res, s, domain));
            }
            Spec::WorkloadEntry(_)
            | Spec::PeerAuthentication(_)
            | Spec::AuthorizationPolicy(_)
            | Spec::Secret(_) => {}
        }
    }

    fn collect_known_hosts(&self) -> BTreeSet<String> {
        let mut hosts = BTreeSet::new();
        for vs in &self.virtual_services {
            hosts.extend(vs.hosts.iter().filter_map(|h| match h {
                host::HostPattern::Exact(e) => Some(e.clone()),
                host::HostPattern::Wildcard(_) => None,
            }));
            for r in &vs.rules {
                if let crate::route::Action::Forward(f) = &r.action {
                    hosts.extend(f.destinations.iter().map(|(d, _)| d.host.clone()));
                }
            }
        }
        for d in &self.destination_rules {
            if let host::HostPattern::Exact(e) = &d.host {
                hosts.insert(e.clone());
            }
        }
        hosts.extend(self.services.iter().map(|s| s.host.clone()));
        hosts.extend(self.profiles.iter().map(|p| p.service.clone()));
        for s in &self.splits {
            hosts.insert(s.apex.clone());
            hosts.extend(s.backends.iter().map(|(b, _)| b.clone()));
        }
        hosts
    }

    /// Cross-resource checks: what a resource refers to must exist, or the behaviour a user
    /// gets is spelled out.
    fn cross_check(&self, res: &Resource, report: &mut Report) {
        let Spec::VirtualService(spec) = &res.spec else {
            return;
        };
        let ns = res.namespace();
        self.check_shadowed_hosts(res, report);
        for (i, g) in spec.gateways.iter().enumerate() {
            let r = crate::route::compile::gateway_ref(g, ns);
            if r != crate::route::compile::MESH_GATEWAY
                && !self.gateways.iter().any(|e| e.name == r)
            {
                report.warn(
                    &FieldPath::root().key("spec").key("gateways").index(i),
                    format!("gateway {r:?} is not among the loaded resources; the VirtualService has no effect there"),
                );
            }
        }
        for (i, rule) in spec.http.iter().enumerate() {
            for (j, d) in rule.route.iter().enumerate() {
                let Some(dest) = &d.destination else { continue };
                let Some(subset) = dest.subset.as_deref().filter(|s| !s.is_empty()) else {
                    continue;
                };
                let h = host::fqdn(&dest.host, ns, &self.config.cluster_domain);
                let policy = self.destination_policy(&h, ns, Some(subset), None);
                if policy.subset.as_ref().is_none_or(|s| s.labels.is_none()) {
                    report.warn(
                        &FieldPath::parse(&format!("spec.http[{i}].route[{j}].destination.subset")),
                        format!(
                            "no DestinationRule for {h} defines subset {subset:?}; requests routed \
                             here get 503 (no cluster, NC), as in Istio"
                        ),
                    );
                }
            }
        }
    }

    /// Istio IST0109: at sidecars the oldest VirtualService owns a host and younger ones
    /// claiming the same host are ignored there (only gateways merge).
    fn check_shadowed_hosts(&self, res: &Resource, report: &mut Report) {
        let me = format!("{}/{}", res.namespace(), res.name());
        let Some(pos) = self.virtual_services.iter().position(|v| v.name == me) else {
            return;
        };
        let vs = &self.virtual_services[pos];
        if !vs
            .gateways
            .iter()
            .any(|g| g == crate::route::compile::MESH_GATEWAY)
        {
            return;
        }
        for (i, h) in vs.hosts.iter().enumerate() {
            let owner = self.virtual_services[..pos].iter().find(|o| {
                o.gateways
                    .iter()
                    .any(|g| g == crate::route::compile::MESH_GATEWAY)
                    && o.hosts.contains(h)
            });
            if let Some(owner) = owner {
                report.warn(
                    &FieldPath::root().key("spec").key("hosts").index(i),
                    format!(
                        "host {} is also claimed by the older VirtualService {}; at sidecars the \
                         oldest one owns a host and this one has no effect for it (Istio merges \
                         VirtualServices only at gateways)",
                        h.to_text(),
                        owner.name
                    ),
                );
            }
        }
    }

    /// The settings.
    pub fn config(&self) -> &MeshConfig {
        &self.config
    }

    /// All resources, oldest first.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// Compiled VirtualServices, oldest first.
    pub fn virtual_services(&self) -> &[CompiledVs] {
        &self.virtual_services
    }

    /// DestinationRules, oldest first.
    pub fn destination_rules(&self) -> &[DrEntry] {
        &self.destination_rules
    }

    /// Gateways.
    pub fn gateways(&self) -> &[GatewayEntry] {
        &self.gateways
    }

    /// Services from ServiceEntries.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The service with this FQDN, when a ServiceEntry defines it.
    pub fn service(&self, fqdn: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.host == fqdn)
    }

    /// True when some resource names this host.
    pub fn is_known_host(&self, fqdn: &str) -> bool {
        self.known_hosts.contains(fqdn)
    }

    /// The effective DestinationRule policy for a host (FQDN), seen from a client namespace.
    pub fn destination_policy(
        &self,
        fqdn: &str,
        client_ns: &str,
        subset: Option<&str>,
        port: Option<u16>,
    ) -> DestinationPolicy {
        destination::resolve(
            &self.destination_rules,
            fqdn,
            host::namespace_of(fqdn, &self.config.cluster_domain),
            client_ns,
            &self.config.root_namespace,
            subset,
            port,
        )
    }

    /// Linkerd: the ServiceProfile for a service FQDN, the one in the client's namespace first,
    /// else the one in the service's namespace.
    pub fn profile(&self, fqdn: &str, client_ns: &str) -> Option<&CompiledProfile> {
        let service_ns = host::namespace_of(fqdn, &self.config.cluster_domain);
        let named = |ns: &str| {
            self.profiles
                .iter()
                .find(|p| p.service == fqdn && p.namespace == ns)
        };
        named(client_ns).or_else(|| service_ns.and_then(named))
    }

    /// The TrafficSplit whose apex is this service FQDN (the oldest when several).
    pub fn traffic_split(&self, fqdn: &str) -> Option<&CompiledSplit> {
        self.splits.iter().find(|s| s.apex == fqdn)
    }
}

fn push_issues(diags: &mut Vec<Diagnostic>, res: &Resource, report: Report) {
    diags.extend(
        report
            .into_issues()
            .into_iter()
            .map(|i: Issue| to_diagnostic(&res.origin, Some(res.display_name()), i)),
    );
}

#[cfg(test)]
mod tests;
