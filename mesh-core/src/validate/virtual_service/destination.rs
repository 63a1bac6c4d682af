//! Destinations and weights (Istio `validateDestination`, `validateHTTPRouteDestinations`,
//! `validateRouteDestinations`; spec §2.1, security C-12..C-16).

use crate::path::FieldPath;
use crate::resource::{Destination, HttpRouteDestination, RouteDestination};
use crate::validate::Report;
use crate::validate::common::{check_wildcard_host, dns1123_label};

use super::headers;
use super::matches::port_number;

/// Istio's `weight` is an `int32`.
const MAX_WEIGHT: i64 = i32::MAX as i64;

/// Envoy rejects weighted clusters whose weights sum above `u32::MAX`.
const MAX_TOTAL_WEIGHT: u128 = u32::MAX as u128;

/// `http[].route[]`: each needs a destination; header operations per destination; weights.
pub(super) fn http_destinations(r: &mut Report, path: &FieldPath, route: &[HttpRouteDestination]) {
    for (i, d) in route.iter().enumerate() {
        let p = path.index(i);
        required_destination(r, &p, d.destination.as_ref());
        if let Some(h) = &d.headers {
            headers::operations(r, &p.key("headers"), h);
            headers::authority_once(r, &p, None, Some(h));
        }
    }
    let w: Vec<Option<i64>> = route.iter().map(|d| d.weight).collect();
    weights(r, path, &w);
}

/// `tls[].route[]` / `tcp[].route[]`.
pub(super) fn l4_destinations(r: &mut Report, path: &FieldPath, route: &[RouteDestination]) {
    for (i, d) in route.iter().enumerate() {
        required_destination(r, &path.index(i), d.destination.as_ref());
    }
    let w: Vec<Option<i64>> = route.iter().map(|d| d.weight).collect();
    weights(r, path, &w);
}

fn required_destination(r: &mut Report, path: &FieldPath, d: Option<&Destination>) {
    match d {
        Some(d) => destination(r, &path.key("destination"), d),
        None => r.error(path, "destination is required"),
    }
}

/// Istio `validateDestination`: a host (not `*`), a DNS-1123 label subset, a valid port.
pub(super) fn destination(r: &mut Report, path: &FieldPath, d: &Destination) {
    let host = path.key("host");
    if d.host.is_empty() {
        r.error(&host, "destination host is required");
    } else if d.host == "*" {
        r.error(
            &host,
            "invalid destination host *: a destination must name one service",
        );
    } else if let Err(msg) = check_wildcard_host(&d.host) {
        r.error(&host, msg);
    }
    match d.subset.as_deref() {
        Some("") => r.error(&path.key("subset"), "subset name cannot be empty"),
        Some(s) => dns1123_label(r, &path.key("subset"), "subset name", s),
        None => {}
    }
    if let Some(port) = d.port {
        port_number(r, &path.key("port").key("number"), port.number);
    }
}

/// Istio >= 1.15 (commit ac641d0): weights are relative, each `>= 0`, and with more than one
/// destination their sum must be `> 0`. They need not sum to 100. Sums are taken in `u128`, so
/// no input can overflow them; Envoy's own cap (`u32::MAX` in total) is enforced.
fn weights(r: &mut Report, path: &FieldPath, weights: &[Option<i64>]) {
    let mut total: u128 = 0;
    for (i, w) in weights.iter().enumerate() {
        let Some(w) = *w else { continue };
        let p = path.index(i).key("weight");
        match u128::try_from(w) {
            Err(_) => r.error(&p, format!("weight {w} must not be negative")),
            Ok(_) if w > MAX_WEIGHT => r.error(
                &p,
                format!("weight {w} is too large: weights are 32-bit, at most {MAX_WEIGHT}"),
            ),
            Ok(v) => total += v,
        }
    }
    if weights.len() > 1 && total == 0 {
        r.error(
            path,
            "total destination weight = 0: with more than one destination at least one weight \
             must be positive (weights are relative and need not sum to 100)",
        );
    } else if total > MAX_TOTAL_WEIGHT {
        r.error(
            path,
            format!("total destination weight {total} exceeds {MAX_TOTAL_WEIGHT}, the most Envoy accepts"),
        );
    }
    // §2.1.1 and C-16: a lone destination receives everything, whatever its weight.
    if let [Some(0)] = weights {
        r.warn(
            &path.index(0).key("weight"),
            "weight 0 on the only destination has no effect: Istio sends it 100% of the traffic; \
             remove the weight (or the rule, to stop traffic)",
        );
    }
}
