//! The `route` key: what routing decided and the route's policies.

use rand::rngs::StdRng;

use super::view::*;
use crate::model::Mesh;
use crate::route::action::{AbortError, Action, Forward, HeaderOps, RetryPolicy};
use crate::route::{Decision, RouteEntry, RouteRequest};

pub(super) fn route_view(
    mesh: &Mesh,
    decision: Decision<'_>,
    rr: &RouteRequest<'_>,
    service: &str,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
) -> RouteView {
    match decision {
        Decision::Default => {
            notes.push(format!(
                "no VirtualService claims {service}: default route (timeout disabled, mesh \
                 default retries)"
            ));
            let dest = DestinationView {
                host: service.to_owned(),
                subset: None,
                port: Some(rr.port),
                weight: 100,
                percent: 100.0,
            };
            RouteView {
                action: "route",
                destinations: vec![dest.clone()],
                picked: Some(dest),
                retries: Some(retries_view(&RetryPolicy::istio_default())),
                ..RouteView::default()
            }
        }
        Decision::NotFound { vhost } => {
            notes.push(match vhost {
                Some(vh) => format!(
                    "{} owns the host but no route matches: 404 (Envoy NR; Istio adds no \
                     catch-all)",
                    vh.virtual_services.join(", ")
                ),
                None => "no virtual host for this host at the gateway: 404".to_owned(),
            });
            RouteView {
                virtual_service: vhost.and_then(|v| v.virtual_services.first().cloned()),
                action: "not_found",
                status: Some(404),
                ..RouteView::default()
            }
        }
        Decision::HttpsRedirect { vhost } => {
            let location = format!(
                "https://{}{}{}",
                crate::model::host::split_authority(rr.authority).0,
                rr.path,
                rr.query.map(|q| format!("?{q}")).unwrap_or_default()
            );
            notes.push(
                "the gateway server sets tls.httpsRedirect: every request gets 301 to https".into(),
            );
            RouteView {
                virtual_service: vhost.virtual_services.first().cloned(),
                action: "redirect",
                status: Some(301),
                redirect: Some(RedirectView {
                    status: 301,
                    location,
                }),
                ..RouteView::default()
            }
        }
        Decision::Route { entry, .. } => matched_view(mesh, entry, rr, rng, notes),
    }
}

fn matched_view(
    _mesh: &Mesh,
    entry: &RouteEntry,
    rr: &RouteRequest<'_>,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
) -> RouteView {
    let rule = &entry.rule;
    let block = entry.match_block();
    let base = RouteView {
        virtual_service: Some(rule.virtual_service.clone()),
        rule: Some(rule.index),
        rule_name: rule.name.clone(),
        match_index: entry.block.map(|b| rule.blocks[b].index),
        ..RouteView::default()
    };
    match &rule.action {
        Action::Redirect(r) => {
            let location = r.location(block, rr.scheme, rr.authority, rr.path, rr.query, rr.port);
            RouteView {
                action: "redirect",
                status: Some(r.status),
                redirect: Some(RedirectView {
                    status: r.status,
                    location,
                }),
                ..base
            }
        }
        Action::DirectResponse(d) => RouteView {
            action: "direct_response",
            status: Some(d.status),
            direct_response: Some(DirectResponseView {
                status: d.status,
                body: d
                    .body
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
            }),
            ..base
        },
        Action::Forward(f) => forward_view(f, block, rr, rng, notes, base),
    }
}

fn forward_view(
    f: &Forward,
    block: Option<&crate::route::MatchBlock>,
    rr: &RouteRequest<'_>,
    rng: &mut StdRng,
    notes: &mut Vec<String>,
    base: RouteView,
) -> RouteView {
    let total = f.destinations.total();
    let single = f.destinations.len() == 1;
    let dests: Vec<DestinationView> = f
        .destinations
        .iter()
        .map(|(d, _)| DestinationView {
            host: d.host.clone(),
            subset: d.subset.clone(),
            port: d.port,
            weight: d.weight,
            percent: if single {
                100.0
            } else {
                percent(d.weight, total)
            },
        })
        .collect();
    let (pi, picked_dest) = f.destinations.pick(rng);
    if f.timeout.is_none() {
        notes.push("route timeout: disabled (Istio's default when timeout is unset)".into());
    }
    if f.retries.is_default {
        notes.push(
            "retries: the mesh default (2 retries on connect-failure, refused-stream, \
             unavailable, cancelled)"
                .into(),
        );
    }
    if f.fault.as_ref().is_some_and(|x| x.abort.is_some()) {
        notes.push(
            "an aborted request never reaches retries, the upstream or outlier detection".into(),
        );
    }
    let headers = merged_headers(&f.headers, &picked_dest.headers);
    RouteView {
        action: "route",
        picked: dests.get(pi).cloned(),
        destinations: dests,
        timeout_ms: f.timeout.map(|t| t.as_millis()),
        retries: Some(retries_view(&f.retries)),
        fault: f.fault.as_ref().map(|x| FaultView {
            delay: x.delay.as_ref().map(|d| FaultDelayView {
                fixed_delay_ms: d.fixed.as_millis(),
                percentage: f64::from(d.per_million) / 10_000.0,
            }),
            abort: x.abort.as_ref().map(|a| FaultAbortView {
                http_status: match &a.error {
                    AbortError::Http(s) => Some(*s),
                    AbortError::Grpc(_) => None,
                },
                grpc_status: match &a.error {
                    AbortError::Grpc(g) => Some(g.clone()),
                    AbortError::Http(_) => None,
                },
                percentage: f64::from(a.per_million) / 10_000.0,
            }),
        }),
        mirror: f
            .mirrors
            .iter()
            .map(|m| MirrorView {
                host: m.host.clone(),
                subset: m.subset.clone(),
                port: m.port,
                percentage: f64::from(m.per_million) / 10_000.0,
            })
            .collect(),
        rewrite: f.rewrite.as_ref().map(|rw| RewriteView {
            path: rw.apply_path(block, rr.path),
            authority: rw.authority.clone(),
        }),
        headers,
        ..base
    }
}

fn merged_headers(route: &HeaderOps, dest: &HeaderOps) -> Option<HeadersView> {
    if route == &HeaderOps::default() && dest == &HeaderOps::default() {
        return None;
    }
    let ops = |a: &crate::route::action::HeaderOperations,
               b: &crate::route::action::HeaderOperations| {
        let mut set = a.set.clone();
        set.extend(b.set.clone());
        let mut add = a.add.clone();
        add.extend(b.add.clone());
        let mut remove = a.remove.clone();
        remove.extend(b.remove.iter().cloned());
        OpsView { set, add, remove }
    };
    Some(HeadersView {
        request: ops(&route.request, &dest.request),
        response: ops(&route.response, &dest.response),
    })
}

fn retries_view(r: &RetryPolicy) -> RetriesView {
    RetriesView {
        attempts: r.attempts,
        per_try_timeout_ms: r.per_try_timeout.map(|t| t.as_millis()),
        retry_on: r.retry_on.clone(),
        retriable_status_codes: r.retriable_status_codes.clone(),
        backoff_base_ms: r.backoff_base.as_millis(),
        retry_ignore_previous_hosts: r.retry_ignore_previous_hosts,
        default: r.is_default,
    }
}

pub(super) fn percent(w: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (w as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}
