//! The demo's configuration: the shipped example resources (embedded unchanged), the registry
//! generated for the addresses the sidecars were bound to, and which files each scene serves.
//! The shipped VirtualServices all claim host `myapp` and only the oldest applies at a
//! sidecar, so each scene serves its own set and the config directory is switched between
//! scenes (hot reload).

use std::fmt::Write as _;
use std::net::SocketAddr;

/// The shipped resources, by file name, exactly as in `examples/resources/`.
pub const SHIPPED: [(&str, &str); 10] = [
    (
        "authorizationpolicy-myapp.yaml",
        include_str!("../../../examples/resources/authorizationpolicy-myapp.yaml"),
    ),
    (
        "destinationrule-circuit-breaker.yaml",
        include_str!("../../../examples/resources/destinationrule-circuit-breaker.yaml"),
    ),
    (
        "destinationrule-myapp.yaml",
        include_str!("../../../examples/resources/destinationrule-myapp.yaml"),
    ),
    (
        "gateway-myapp.yaml",
        include_str!("../../../examples/resources/gateway-myapp.yaml"),
    ),
    (
        "peerauthentication.yaml",
        include_str!("../../../examples/resources/peerauthentication.yaml"),
    ),
    (
        "serviceprofile-myapp.yaml",
        include_str!("../../../examples/resources/serviceprofile-myapp.yaml"),
    ),
    (
        "trafficsplit-canary.yaml",
        include_str!("../../../examples/resources/trafficsplit-canary.yaml"),
    ),
    (
        "virtualservice-fault.yaml",
        include_str!("../../../examples/resources/virtualservice-fault.yaml"),
    ),
    (
        "virtualservice-mirror.yaml",
        include_str!("../../../examples/resources/virtualservice-mirror.yaml"),
    ),
    (
        "virtualservice-myapp.yaml",
        include_str!("../../../examples/resources/virtualservice-myapp.yaml"),
    ),
];

/// Served in every scene: the inbound policies of the myapp and legacy sidecars, and the
/// Gateway (the ingress gateway's listeners must always name one of its servers).
const ALWAYS: [&str; 3] = [
    "peerauthentication.yaml",
    "authorizationpolicy-myapp.yaml",
    "gateway-myapp.yaml",
];

/// The namespace of every workload.
pub const NAMESPACE: &str = "production";

/// The host clients send to for myapp.
pub const MYAPP: &str = "myapp.production.svc.cluster.local";

/// The host the ingress gateway serves.
pub const EXTERNAL: &str = "myapp.example.com";

/// The Gateway resource, as the gateway's listeners name it.
pub const GATEWAY: &str = "production/myapp-gateway";

/// The host clients send to for the legacy service.
pub const LEGACY: &str = "legacy-service.production.svc.cluster.local";

/// One configuration of the mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SceneConfig {
    /// Header route and canary (also serves the authorization scene).
    Routing,
    /// `virtualservice-fault.yaml`.
    Fault,
    /// `virtualservice-mirror.yaml`.
    Mirror,
    /// The circuit-breaker DestinationRule over the default route's retries, with a failing
    /// pod.
    Resilience,
    /// ServiceProfile and TrafficSplit, with a failing pod.
    Linkerd,
}

/// What the generated files are made of: where the workloads' sidecars listen (inbound), for
/// the registry, and the gateway's certificate for the Secret.
#[derive(Clone, Debug)]
pub struct Generated {
    /// myapp v1's sidecar.
    pub v1: SocketAddr,
    /// myapp v2's sidecar.
    pub v2: SocketAddr,
    /// The failing myapp v1 pod's sidecar.
    pub failing: SocketAddr,
    /// legacy-service's sidecar.
    pub legacy: SocketAddr,
    /// The certificate of `myapp.example.com` (PEM), for `myapp-tls-secret`.
    pub tls_cert: String,
    /// Its private key (PEM).
    pub tls_key: String,
}

// === impl SceneConfig ===

impl SceneConfig {
    /// Every configuration, in the order the demo serves them.
    pub const ALL: [SceneConfig; 5] = [
        SceneConfig::Routing,
        SceneConfig::Fault,
        SceneConfig::Linkerd,
        SceneConfig::Mirror,
        SceneConfig::Resilience,
    ];

    /// A short name (the scene directory's).
    pub fn name(self) -> &'static str {
        match self {
            SceneConfig::Routing => "routing",
            SceneConfig::Fault => "fault",
            SceneConfig::Mirror => "mirror",
            SceneConfig::Resilience => "resilience",
            SceneConfig::Linkerd => "linkerd",
        }
    }

    /// The shipped files this configuration serves besides [`ALWAYS`].
    fn shipped(self) -> &'static [&'static str] {
        match self {
            SceneConfig::Routing => &["virtualservice-myapp.yaml", "destinationrule-myapp.yaml"],
            SceneConfig::Fault => &["virtualservice-fault.yaml"],
            SceneConfig::Mirror => &["virtualservice-mirror.yaml", "destinationrule-myapp.yaml"],
            // The circuit breaker's file sorts first, so its top-level trafficPolicy wins the
            // DestinationRule merge; destinationrule-myapp still defines the subsets the
            // VirtualService routes to.
            SceneConfig::Resilience => &[
                "virtualservice-myapp.yaml",
                "destinationrule-circuit-breaker.yaml",
                "destinationrule-myapp.yaml",
            ],
            SceneConfig::Linkerd => &["serviceprofile-myapp.yaml", "trafficsplit-canary.yaml"],
        }
    }

    /// Whether the failing pod is registered.
    pub fn has_failing_pod(self) -> bool {
        matches!(self, SceneConfig::Resilience | SceneConfig::Linkerd)
    }

    /// The files of this configuration: (file name, text).
    pub fn files(self, generated: &Generated) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = ALWAYS
            .iter()
            .chain(self.shipped())
            .filter_map(|name| SHIPPED.iter().find(|(n, _)| n == name))
            .map(|(n, text)| ((*n).to_owned(), (*text).to_owned()))
            .collect();
        out.push(("zz-registry.yaml".into(), registry(generated, self)));
        out.push(("zz-secret-myapp-tls.yaml".into(), secret(generated)));
        out
    }
}

/// The generated registry: ServiceEntries selecting WorkloadEntries that point at the
/// sidecars' inbound listeners, labelled for mTLS.
pub fn registry(e: &Generated, scene: SceneConfig) -> String {
    let mut docs = vec![
        service_entry("myapp", MYAPP, "{app: myapp}"),
        service_entry("legacy-service", LEGACY, "{app: legacy-service}"),
        workload_entry("myapp-v1", e.v1, "myapp", "app: myapp, version: v1"),
        workload_entry("myapp-v2", e.v2, "myapp", "app: myapp, version: v2"),
        workload_entry("legacy-service", e.legacy, "legacy", "app: legacy-service"),
    ];
    if scene.has_failing_pod() {
        docs.push(workload_entry(
            "myapp-v1-failing",
            e.failing,
            "myapp",
            "app: myapp, version: v1",
        ));
    }
    if scene == SceneConfig::Linkerd {
        // The TrafficSplit's backends.
        docs.push(service_entry(
            "myapp-v1",
            "myapp-v1.production.svc.cluster.local",
            "{app: myapp, version: v1}",
        ));
        docs.push(service_entry(
            "myapp-v2",
            "myapp-v2.production.svc.cluster.local",
            "{app: myapp, version: v2}",
        ));
    }
    let mut out = String::from("# Generated by mesh-proxy demo for this run's addresses.\n");
    for d in docs {
        let _ = write!(out, "---\n{d}");
    }
    out
}

fn service_entry(name: &str, host: &str, selector: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: {name}, namespace: {NAMESPACE}}}\nspec:\n  hosts: [{host}]\n  \
         location: MESH_INTERNAL\n  resolution: STATIC\n  \
         ports: [{{number: 80, name: http, protocol: HTTP}}]\n  \
         workloadSelector: {{labels: {selector}}}\n"
    )
}

fn workload_entry(name: &str, addr: SocketAddr, sa: &str, labels: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n\
         metadata: {{name: {name}, namespace: {NAMESPACE}}}\nspec:\n  address: {}\n  \
         ports: {{http: {}}}\n  serviceAccount: {sa}\n  \
         labels: {{{labels}, security.istio.io/tlsMode: istio}}\n",
        addr.ip(),
        addr.port()
    )
}

/// `myapp-tls-secret`, the Secret the Gateway's HTTPS server names in `credentialName`.
pub fn secret(g: &Generated) -> String {
    let block = |pem: &str| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "# Generated by mesh-proxy demo: the certificate of {EXTERNAL}.\n\
         apiVersion: v1\nkind: Secret\n\
         metadata: {{name: myapp-tls-secret, namespace: {NAMESPACE}}}\n\
         type: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        block(&g.tls_cert),
        block(&g.tls_key)
    )
}
