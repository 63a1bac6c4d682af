//! Linkerd ServiceProfile route matching and response classification, and SMI TrafficSplit
//! (spec §9, §2.2–§2.3).

use regex::Regex;

use crate::model::host::fqdn;
use crate::resource::{
    Duration, RequestMatch, Resource, ResponseMatch, ServiceProfileSpec, TrafficSplitSpec,
};
use crate::split::WeightedSet;

/// A compiled ServiceProfile.
#[derive(Clone, Debug)]
pub struct CompiledProfile {
    /// `ns/name`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// The service FQDN it describes (its `metadata.name`).
    pub service: String,
    /// Routes, first match wins.
    pub routes: Vec<ProfileRoute>,
    /// Retry budget with Linkerd's defaults (0.2, 10/s, 10s).
    pub retry_budget: RetryBudgetSettings,
    /// `dstOverrides` with Linkerd's weight rules; `None` when absent or all zero (the apex).
    pub dst_overrides: Option<WeightedSet<String>>,
}

/// A ServiceProfile route.
#[derive(Clone, Debug)]
pub struct ProfileRoute {
    /// Name.
    pub name: String,
    /// Request condition.
    pub condition: RequestCondition,
    /// Response classes (classes with a missing bound are dropped, as the proxy does).
    pub response_classes: Vec<ResponseClassRule>,
    /// Retryable within the budget.
    pub retryable: bool,
    /// Whole-request timeout.
    pub timeout: Option<Duration>,
}

/// A compiled `RequestMatch`.
#[derive(Clone, Debug)]
pub enum RequestCondition {
    /// Every child.
    All(Vec<RequestCondition>),
    /// At least one child.
    Any(Vec<RequestCondition>),
    /// Negation.
    Not(Box<RequestCondition>),
    /// Path regex, anchored the Linkerd way.
    Path(Regex),
    /// Method, upper-cased.
    Method(String),
}

/// A response class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseClassRule {
    /// Condition.
    pub condition: ResponseCondition,
    /// Failure or success.
    pub is_failure: bool,
}

/// A compiled `ResponseMatch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseCondition {
    /// Every child.
    All(Vec<ResponseCondition>),
    /// At least one child.
    Any(Vec<ResponseCondition>),
    /// Negation.
    Not(Box<ResponseCondition>),
    /// Inclusive status range.
    Status(u16, u16),
}

/// Linkerd retry budget parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudgetSettings {
    /// Retries per request.
    pub retry_ratio: f64,
    /// Retries always allowed per second.
    pub min_retries_per_second: u32,
    /// Window.
    pub ttl: Duration,
}

impl Default for RetryBudgetSettings {
    fn default() -> Self {
        RetryBudgetSettings {
            retry_ratio: 0.2,
            min_retries_per_second: 10,
            ttl: Duration::from_secs(10),
        }
    }
}

/// Linkerd `pathRegex` anchoring: trim; unless the pattern both starts with `^` and ends with
/// `$`, prepend `^` and append `$` where missing, textually (so `a|b` becomes `^a|b$`).
pub fn linkerd_anchor(pattern: &str) -> String {
    let p = pattern.trim();
    if p.starts_with('^') && p.ends_with('$') {
        return p.to_owned();
    }
    let mut s = String::with_capacity(p.len() + 2);
    if !p.starts_with('^') {
        s.push('^');
    }
    s.push_str(p);
    if !p.ends_with('$') {
        s.push('$');
    }
    s
}

// === impl CompiledProfile ===

impl CompiledProfile {
    /// Compiles a profile; routes whose condition does not compile are dropped (Linkerd does
    /// the same; validation reports them as errors first).
    pub fn compile(res: &Resource, spec: &ServiceProfileSpec) -> Self {
        let routes = spec
            .routes
            .iter()
            .filter_map(|r| {
                Some(ProfileRoute {
                    name: r.name.clone(),
                    condition: request_condition(r.condition.as_ref()?)?,
                    response_classes: r
                        .response_classes
                        .iter()
                        .filter_map(|c| {
                            Some(ResponseClassRule {
                                condition: response_condition(c.condition.as_ref()?)?,
                                is_failure: c.is_failure.unwrap_or(false),
                            })
                        })
                        .collect(),
                    retryable: r.is_retryable.unwrap_or(false),
                    timeout: r.timeout.filter(|t| !t.is_zero()),
                })
            })
            .collect();
        let defaults = RetryBudgetSettings::default();
        let retry_budget = spec
            .retry_budget
            .as_ref()
            .map_or(defaults, |b| RetryBudgetSettings {
                retry_ratio: b.retry_ratio.unwrap_or(defaults.retry_ratio),
                min_retries_per_second: b
                    .min_retries_per_second
                    .unwrap_or(defaults.min_retries_per_second),
                ttl: b.ttl.unwrap_or(defaults.ttl),
            });
        let overrides = spec
            .dst_overrides
            .iter()
            .map(|d| {
                (
                    d.authority.clone(),
                    d.weight
                        .as_ref()
                        .map_or(0, |q| q.milli().saturating_mul(10)),
                )
            })
            .collect();
        CompiledProfile {
            name: format!("{}/{}", res.namespace(), res.name()),
            namespace: res.namespace().to_owned(),
            service: res.name().to_ascii_lowercase(),
            routes,
            retry_budget,
            dst_overrides: WeightedSet::linkerd(overrides),
        }
    }

    /// The first route whose condition holds (`None`: the default route - no retries, no
    /// timeout, default classification).
    pub fn route(&self, method: &str, path: &str) -> Option<&ProfileRoute> {
        self.routes
            .iter()
            .find(|r| r.condition.matches(method, path))
    }
}

// === impl RequestCondition ===

impl RequestCondition {
    /// Evaluates against the method and the raw path (no query; Linkerd does not normalize).
    pub fn matches(&self, method: &str, path: &str) -> bool {
        match self {
            RequestCondition::All(c) => c.iter().all(|c| c.matches(method, path)),
            RequestCondition::Any(c) => c.iter().any(|c| c.matches(method, path)),
            RequestCondition::Not(c) => !c.matches(method, path),
            RequestCondition::Path(re) => re.is_match(path),
            RequestCondition::Method(m) => m == method,
        }
    }
}

/// Several fields in one condition are ANDed (the controller emits `All`).
fn request_condition(m: &RequestMatch) -> Option<RequestCondition> {
    let mut parts = Vec::new();
    if let Some(p) = &m.path_regex {
        let anchored = linkerd_anchor(p);
        parts.push(RequestCondition::Path(
            crate::pattern::compile(p, &anchored).ok()?,
        ));
    }
    if let Some(method) = &m.method {
        parts.push(RequestCondition::Method(method.to_ascii_uppercase()));
    }
    if let Some(all) = &m.all {
        let c = all
            .iter()
            .map(|c| request_condition(c.as_ref()?))
            .collect::<Option<Vec<_>>>()?;
        parts.push(RequestCondition::All(c));
    }
    if let Some(any) = &m.any {
        let c = any
            .iter()
            .map(|c| request_condition(c.as_ref()?))
            .collect::<Option<Vec<_>>>()?;
        parts.push(RequestCondition::Any(c));
    }
    if let Some(not) = &m.not {
        parts.push(RequestCondition::Not(Box::new(request_condition(not)?)));
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(RequestCondition::All(parts)),
    }
}

/// A range with a missing bound is dropped (the proxy turns 0 into an invalid status code and
/// drops the class; spec §9.3 doc/code divergence).
fn response_condition(m: &ResponseMatch) -> Option<ResponseCondition> {
    let mut parts = Vec::new();
    if let Some(s) = &m.status {
        let min = u16::try_from(s.min.unwrap_or(0)).ok().filter(|v| *v != 0)?;
        let max = u16::try_from(s.max.unwrap_or(0)).ok().filter(|v| *v != 0)?;
        parts.push(ResponseCondition::Status(min, max));
    }
    for (list, any) in [(&m.all, false), (&m.any, true)] {
        if let Some(l) = list {
            let c = l
                .iter()
                .map(|c| response_condition(c.as_ref()?))
                .collect::<Option<Vec<_>>>()?;
            parts.push(if any {
                ResponseCondition::Any(c)
            } else {
                ResponseCondition::All(c)
            });
        }
    }
    if let Some(not) = &m.not {
        parts.push(ResponseCondition::Not(Box::new(response_condition(not)?)));
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(ResponseCondition::All(parts)),
    }
}

// === impl ResponseCondition ===

impl ResponseCondition {
    /// Evaluates against a status code.
    pub fn matches(&self, status: u16) -> bool {
        match self {
            ResponseCondition::All(c) => c.iter().all(|c| c.matches(status)),
            ResponseCondition::Any(c) => c.iter().any(|c| c.matches(status)),
            ResponseCondition::Not(c) => !c.matches(status),
            ResponseCondition::Status(min, max) => (*min..=*max).contains(&status),
        }
    }
}

/// Classifies an HTTP response of a non-gRPC request: the first matching class decides; with
/// no class matching (or none configured), 5xx is a failure.
pub fn is_failure(classes: &[ResponseClassRule], status: u16) -> bool {
    classes
        .iter()
        .find(|c| c.condition.matches(status))
        .map_or((500..=599).contains(&status), |c| c.is_failure)
}

/// A compiled TrafficSplit.
#[derive(Clone, Debug)]
pub struct CompiledSplit {
    /// `ns/name`.
    pub name: String,
    /// The apex service FQDN.
    pub apex: String,
    /// Backends (FQDN) with their weight in milli-units, as configured.
    pub backends: Vec<(String, u64)>,
    /// The weighted set (Linkerd: zero weights dropped); `None` routes to the apex.
    pub set: Option<WeightedSet<String>>,
}

// === impl CompiledSplit ===

impl CompiledSplit {
    /// Compiles a split; service names expand in the split's namespace.
    pub fn compile(res: &Resource, spec: &TrafficSplitSpec, cluster_domain: &str) -> Self {
        let ns = res.namespace();
        let backends: Vec<(String, u64)> = spec
            .backends
            .iter()
            .map(|b| {
                (
                    fqdn(&b.service, ns, cluster_domain),
                    b.weight.as_ref().map_or(0, |q| q.milli()),
                )
            })
            .collect();
        CompiledSplit {
            name: format!("{ns}/{}", res.name()),
            apex: fqdn(&spec.service, ns, cluster_domain),
            set: WeightedSet::linkerd(backends.clone()),
            backends,
        }
    }
}

#[cfg(test)]
mod tests;
