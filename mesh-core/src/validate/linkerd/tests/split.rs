//! SMI TrafficSplit, per version.

use super::{Case, check, doc};

fn run(version: &str, cases: &[Case]) {
    for c in cases {
        let api = format!("split.smi-spec.io/{version}");
        check(c.name, &doc(&api, "TrafficSplit", "t", c.spec), c.want);
    }
}

#[test]
fn v1alpha1_quantities() {
    run(
        "v1alpha1",
        &[
            Case {
                name: "Quantity weights",
                spec: "
  service: web
  backends:
  - {service: web-v1, weight: 900m}
  - {service: web-v2, weight: 1500m}
  - {service: web-v3.prod.svc.cluster.local, weight: 0}
",
                want: &[],
            },
            Case {
                name: "negative weight",
                spec: "
  service: web
  backends:
  - service: web-v1
    weight: -1
",
                want: &[(
                    "Error 10:13 spec.backends[0].weight",
                    "negative quantity \"-1\"",
                )],
            },
        ],
    );
}

#[test]
fn v1alpha2_whole_weights() {
    run(
        "v1alpha2",
        &[
            Case {
                name: "weights must be whole numbers",
                spec: "
  service: web
  backends:
  - service: web-v1
    weight: 500m
  - service: web-v2
    weight: 1k
  - service: web-v3
    weight: 1.5
  - service: web-v4
    weight: 2
",
                want: &[
                    (
                        "Error 10:13 spec.backends[0].weight",
                        "weights must be whole numbers in split.smi-spec.io/v1alpha2, got 500m",
                    ),
                    (
                        "Error 12:13 spec.backends[1].weight",
                        "weights must be whole numbers in split.smi-spec.io/v1alpha2, got 1k",
                    ),
                    (
                        "Error 14:13 spec.backends[2].weight",
                        "weights must be whole numbers in split.smi-spec.io/v1alpha2, got 1.5",
                    ),
                ],
            },
            Case {
                name: "matches is not a v1alpha2 field",
                spec: "
  service: web
  backends:
  - {service: web-v1, weight: 1}
  matches: []
",
                want: &[(
                    "Error 10:3 spec.matches",
                    "matches is not a field of split.smi-spec.io/v1alpha2; it was added in \
                     v1alpha3",
                )],
            },
            Case {
                name: "empty service and backends",
                spec: "
  service: \"\"
  backends: []
",
                want: &[
                    ("Error 7:12 spec.service", "service is required"),
                    (
                        "Error 8:3 spec.backends",
                        "backends must have at least one entry",
                    ),
                ],
            },
            Case {
                name: "service names and missing weights",
                spec: "
  service: My_Svc
  backends:
  - service: \"\"
    weight: 1
  - weight: 1
  - service: web-v2
",
                want: &[
                    (
                        "Error 7:12 spec.service",
                        "service \"My_Svc\" is not a valid Service name",
                    ),
                    (
                        "Error 9:14 spec.backends[0].service",
                        "backend service is required",
                    ),
                    (
                        "Error 11:5 spec.backends[1].service",
                        "backend service is required",
                    ),
                    ("Error 12:5 spec.backends[2].weight", "weight is required"),
                ],
            },
        ],
    );
}

#[test]
fn v1alpha3_and_v1alpha4() {
    run(
        "v1alpha3",
        &[
            Case {
                name: "every weight zero, a backend twice",
                spec: "
  service: web
  backends:
  - {service: web-v1, weight: 0}
  - {service: web-v1, weight: 0}
",
                want: &[
                    (
                        "Warning 8:3 spec.backends",
                        "every backend weight is 0: Linkerd drops zero-weight backends and \
                         routes all traffic to the apex service \"web\"",
                    ),
                    (
                        "Warning 10:15 spec.backends[1].service",
                        "backend \"web-v1\" is listed more than once",
                    ),
                ],
            },
            Case {
                name: "matches must name HTTPRouteGroups",
                spec: "
  service: web
  backends:
  - {service: web-v1, weight: 1}
  matches:
  - kind: HTTPRoute
    name: a
  - kind: HTTPRouteGroup
    apiGroup: gateway.networking.k8s.io
",
                want: &[
                    (
                        "Error 11:11 spec.matches[0].kind",
                        "matches kind must be HTTPRouteGroup, not \"HTTPRoute\"",
                    ),
                    (
                        "Error 13:5 spec.matches[1].name",
                        "matches name is required",
                    ),
                    (
                        "Error 14:15 spec.matches[1].apiGroup",
                        "matches apiGroup must be specs.smi-spec.io, not \
                         \"gateway.networking.k8s.io\"",
                    ),
                ],
            },
        ],
    );
    run(
        "v1alpha4",
        &[
            Case {
                name: "integer weights with route groups",
                spec: "
  service: web
  backends:
  - {service: web-v1, weight: 90}
  - {service: web-v2, weight: 10}
  matches:
  - {kind: HTTPRouteGroup, name: ab-test}
  - {kind: HTTPRouteGroup, name: canary, apiGroup: specs.smi-spec.io}
",
                want: &[],
            },
            Case {
                name: "service and backends absent",
                spec: "  matches: []\n",
                want: &[
                    ("Error 6:1 spec.service", "service is required"),
                    (
                        "Error 6:1 spec.backends",
                        "backends must have at least one entry",
                    ),
                ],
            },
        ],
    );
}
