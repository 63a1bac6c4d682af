//! What a [`Client`] builds on first use and keeps: clusters per (host, subset, port) and
//! ServiceProfile budgets; and the Linkerd backend pick of hosts no VirtualService claims.

use std::sync::Arc;
use std::time::Instant;

use super::cluster::ClusterState;
use super::{Client, InvalidPolicy, lock};
use crate::profile::ProfileRoute;
use crate::resilience::budget::RetryBudget;

// === impl Client ===

impl Client {
    /// The cluster of (host, subset, port), built on first use; `None` when the subset is not
    /// defined by any DestinationRule (Envoy: no cluster, 503 `NC`).
    pub(super) fn cluster(
        &self,
        host: &str,
        subset: Option<&str>,
        port: u16,
        now: Instant,
    ) -> Result<Option<Arc<ClusterState>>, InvalidPolicy> {
        let key = (host.to_owned(), subset.map(str::to_owned), port);
        if let Some(c) = lock(&self.clusters).get(&key) {
            return Ok(Some(c.clone()));
        }
        let policy =
            self.mesh
                .destination_policy(host, &self.workload.namespace, subset, Some(port));
        let built = ClusterState::try_new(
            &self.mesh,
            host,
            subset,
            port,
            &policy,
            &mut *self.rng(),
            now,
        )
        .map_err(|reason| InvalidPolicy::Cluster {
            cluster: format!("{host}|{}|{port}", subset.unwrap_or("")),
            reason,
        })?;
        let Some(state) = built else { return Ok(None) };
        let state = Arc::new(state);
        // Two first calls may race: the first one stored wins, so state is never split.
        Ok(Some(
            lock(&self.clusters).entry(key).or_insert(state).clone(),
        ))
    }

    /// The ServiceProfile route of the request on `host`, with its profile's shared budget.
    pub(super) fn profile_route(
        &self,
        host: &str,
        method: &str,
        path: &str,
        now: Instant,
    ) -> Result<Option<(&ProfileRoute, Arc<RetryBudget>)>, InvalidPolicy> {
        let Some(profile) = self.mesh.profile(host, &self.workload.namespace) else {
            return Ok(None);
        };
        let Some(route) = profile.route(method, path) else {
            return Ok(None);
        };
        let key = std::ptr::from_ref(profile) as usize;
        let mut budgets = lock(&self.budgets);
        if let Some(b) = budgets.get(&key) {
            return Ok(Some((route, b.clone())));
        }
        let budget = RetryBudget::try_new(&profile.retry_budget, now)
            .map(Arc::new)
            .map_err(|reason| InvalidPolicy::Budget {
                profile: format!("{}/{}", profile.namespace, profile.name),
                reason,
            })?;
        budgets.insert(key, budget.clone());
        Ok(Some((route, budget)))
    }

    /// Linkerd on a host no VirtualService claims: the ServiceProfile's `dstOverrides`, else an
    /// SMI TrafficSplit, picks the backend service (as the mesh layer does).
    pub(super) fn backend(&self, service: &str, port: u16) -> (String, u16) {
        let overrides = self
            .mesh
            .profile(service, &self.workload.namespace)
            .and_then(|p| p.dst_overrides.as_ref());
        let set = overrides.or_else(|| {
            self.mesh
                .traffic_split(service)
                .and_then(|s| s.set.as_ref())
        });
        let Some(set) = set else {
            return (service.to_owned(), port);
        };
        let (_, authority) = set.pick(&mut *self.rng());
        match authority.rsplit_once(':') {
            Some((host, p)) => (host.to_owned(), p.parse().unwrap_or(port)),
            None => (authority.clone(), port),
        }
    }
}
