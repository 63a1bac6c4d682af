//! Checks, once when the layer is built, that every policy the client's routes can reach is
//! one the engines enforce: faults, retries and mirrors of each forwarding route, and the
//! load balancer, outlier detection and retry budget of each destination and mirror cluster,
//! and each ServiceProfile's budget. Requests then only meet policies already accepted.

use std::time::Instant;

use super::{InvalidCluster, InvalidMesh};
use crate::layer::balance::InvalidBalance;
use crate::model::Mesh;
use crate::resilience::balance::{Balancer, panic_threshold};
use crate::resilience::budget::RetryBudget;
use crate::resilience::envoy_budget::EnvoyRetryBudget;
use crate::resilience::fault::FaultInjector;
use crate::resilience::mirror::{DEFAULT_MAX_BODY, HostRule, MirrorPolicy};
use crate::resilience::outlier::OutlierDetector;
use crate::resilience::retry::IstioRetry;
use crate::route::VirtualHosts;
use crate::route::action::Action;

/// Every route of `vhosts` and every cluster they name, seen from `client_ns`.
pub(super) fn routes(
    mesh: &Mesh,
    vhosts: &VirtualHosts,
    client_ns: &str,
    now: Instant,
) -> Result<(), InvalidMesh> {
    for vh in vhosts.iter() {
        for entry in vh.routes.entries() {
            let Action::Forward(f) = &entry.rule.action else {
                continue;
            };
            if let Some(fault) = &f.fault {
                FaultInjector::try_new(fault).map_err(InvalidMesh::Fault)?;
            }
            IstioRetry::try_new(&f.retries, false).map_err(InvalidMesh::Retry)?;
            MirrorPolicy::try_new(&f.mirrors, HostRule::Unchanged, DEFAULT_MAX_BODY)
                .map_err(InvalidMesh::Mirror)?;
            let targets = f
                .destinations
                .iter()
                .map(|(d, _)| (&d.host, &d.subset, d.port));
            let mirrors = f.mirrors.iter().map(|m| (&m.host, &m.subset, m.port));
            for (host, subset, port) in targets.chain(mirrors) {
                cluster(mesh, client_ns, host, subset.as_deref(), port, now)?;
                profile(mesh, client_ns, host, now)?;
            }
        }
    }
    Ok(())
}

fn cluster(
    mesh: &Mesh,
    client_ns: &str,
    host: &str,
    subset: Option<&str>,
    port: Option<u16>,
    now: Instant,
) -> Result<(), InvalidMesh> {
    let policy = mesh.destination_policy(host, client_ns, subset, port);
    let invalid = |reason: InvalidCluster| InvalidMesh::Cluster {
        cluster: format!(
            "{host}|{}|{}",
            subset.unwrap_or(""),
            port.map(|p| p.to_string()).unwrap_or_default()
        ),
        reason,
    };
    let outlier = policy.outlier_detection.as_ref();
    Balancer::try_new(&policy.load_balancer, panic_threshold(outlier))
        .map_err(|e| invalid(InvalidBalance::from(e).into()))?;
    if let Some(o) = outlier {
        OutlierDetector::try_new(o, 0, now).map_err(|e| invalid(InvalidBalance::from(e).into()))?;
    }
    if let Some(b) = &policy.retry_budget {
        EnvoyRetryBudget::try_new(b).map_err(|e| invalid(e.into()))?;
    }
    Ok(())
}

fn profile(mesh: &Mesh, client_ns: &str, host: &str, now: Instant) -> Result<(), InvalidMesh> {
    if let Some(p) = mesh.profile(host, client_ns) {
        RetryBudget::try_new(&p.retry_budget, now).map_err(|e| InvalidMesh::Budget {
            profile: format!("{}/{}", p.namespace, p.name),
            reason: e,
        })?;
    }
    Ok(())
}
