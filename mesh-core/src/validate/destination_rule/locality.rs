//! `localityLbSetting` (Istio `ValidateLocalityLbSetting`).

use crate::path::FieldPath;
use crate::resource::{LocalityDistribute, LocalityFailover, LocalityLbSetting, OutlierDetection};
use crate::validate::Report;

/// Topology labels that `failover` already implies.
const TOPOLOGY_LABELS: [&str; 3] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

/// Istio: `distribute` and `failover` are exclusive; `failover` excludes topology labels in
/// `failoverPriority`; failover without outlier detection never triggers (warning).
pub(super) fn check_locality(
    r: &mut Report,
    path: &FieldPath,
    l: &LocalityLbSetting,
    outlier: Option<&OutlierDetection>,
) {
    if !l.distribute.is_empty() && !l.failover.is_empty() {
        r.error(path, "set only one of distribute or failover");
        return;
    }
    if !l.failover.is_empty() {
        for (i, label) in l.failover_priority.iter().enumerate() {
            if TOPOLOGY_LABELS.contains(&label.as_str()) {
                r.error(
                    &path.key("failoverPriority").index(i),
                    format!(
                        "failoverPriority label {label:?} cannot be combined with failover \
                         (failover already orders by region)"
                    ),
                );
            }
        }
    }
    distribute(r, &path.key("distribute"), &l.distribute);
    failover(r, &path.key("failover"), &l.failover);
    if (!l.failover.is_empty() || !l.failover_priority.is_empty()) && outlier.is_none() {
        r.warn(
            path,
            "locality failover needs outlierDetection: without it no host is ever ejected, so \
             traffic never fails over",
        );
    }
}

/// Istio: each weight in 1..=100, the weights of one `from` sum to 100, and neither the
/// origins nor the destinations of one entry overlap.
fn distribute(r: &mut Report, path: &FieldPath, items: &[LocalityDistribute]) {
    let mut froms = Vec::new();
    for (i, d) in items.iter().enumerate() {
        let at = path.index(i);
        froms.push((at.key("from"), d.from.as_str()));
        let to = at.key("to");
        let mut total: u64 = 0;
        let mut weights_ok = true;
        for (loc, w) in &d.to {
            if !(1..=100).contains(w) {
                r.error(
                    &to.key(loc.as_str()),
                    format!("locality weight {w} for {loc:?} must be in range 1..100"),
                );
                weights_ok = false;
            }
            total += u64::from(*w);
        }
        if weights_ok && total != 100 {
            r.error(
                &to,
                format!(
                    "the weights for {:?} sum to {total}; they must sum to 100",
                    d.from
                ),
            );
        }
        let dests: Vec<(FieldPath, &str)> =
            d.to.keys()
                .map(|loc| (to.key(loc.as_str()), loc.as_str()))
                .collect();
        localities(r, &dests);
    }
    localities(r, &froms);
}

/// Istio: failover moves between different regions, named without zones or wildcards.
fn failover(r: &mut Report, path: &FieldPath, items: &[LocalityFailover]) {
    for (i, f) in items.iter().enumerate() {
        let at = path.index(i);
        if f.from.is_empty() || f.to.is_empty() {
            r.error(&at, "failover needs both from and to regions");
            continue;
        }
        if f.from == f.to {
            r.error(
                &at.key("to"),
                format!("failover from and to are the same region {:?}", f.to),
            );
        }
        for (field, v) in [("from", &f.from), ("to", &f.to)] {
            if v.contains('/') || v.contains('*') {
                r.error(
                    &at.key(field),
                    format!("failover {field} {v:?} must be a region name (no '/', no '*')"),
                );
            }
        }
    }
}

/// Istio `validateLocalities`: `region[/zone[/subzone]]`, no empty part, at most one `*` and only
/// at the end, and no locality covering an earlier one.
fn localities(r: &mut Report, items: &[(FieldPath, &str)]) {
    let mut accepted: Vec<(&str, Vec<&str>)> = Vec::new();
    for (at, loc) in items {
        let stars = loc.matches('*').count();
        if stars > 1 || (stars == 1 && !loc.ends_with('*')) {
            r.error(
                at,
                format!("locality {loc:?}: a wildcard '*' may appear once, at the end"),
            );
            continue;
        }
        let parts: Vec<&str> = loc.splitn(3, '/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            r.error(
                at,
                format!("locality {loc:?} has an empty region, zone or subzone"),
            );
            continue;
        }
        if let Some((prev, _)) = accepted.iter().find(|(_, p)| overlaps(p, &parts)) {
            r.error(at, format!("locality {loc:?} overlaps {prev:?}"));
            continue;
        }
        accepted.push((loc, parts));
    }
}

/// Two localities overlap when one covers the other: equal or wildcard on every common level.
fn overlaps(a: &[&str], b: &[&str]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| x == y || *x == "*" || *y == "*")
}
