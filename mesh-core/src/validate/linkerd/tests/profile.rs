//! ServiceProfile: routes, conditions, response classes, retry budget, overrides.

use super::{Case, check, doc};

fn run(cases: &[Case]) {
    for c in cases {
        let text = doc(
            "linkerd.io/v1alpha2",
            "ServiceProfile",
            "web.prod.svc.cluster.local",
            c.spec,
        );
        check(c.name, &text, c.want);
    }
}

#[test]
fn routes_and_request_conditions() {
    run(&[
        Case {
            name: "a full profile",
            spec: "
  routes:
  - name: GET /api/users/{id}
    condition:
      all:
      - method: GET
      - pathRegex: /api/users/[^/]+
      - not: {pathRegex: /api/users/admin}
    responseClasses:
    - condition:
        any:
        - status: {min: 500, max: 599}
        - status: {min: 429, max: 429}
      isFailure: true
    isRetryable: true
    timeout: 250ms
  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s}
  dstOverrides:
  - {authority: web-v2.prod.svc.cluster.local:8080, weight: 900m}
  - {authority: \"10.0.0.1:80\", weight: 100m}
  - {authority: \"[::1]:80\", weight: 0}
  opaquePorts: [3306]
",
            want: &[],
        },
        Case {
            name: "route without name or condition",
            spec: "
  routes:
  - timeout: 1s
",
            want: &[
                ("Error 8:5 spec.routes[0].name", "route name is required"),
                (
                    "Error 8:5 spec.routes[0].condition",
                    "route has no condition",
                ),
            ],
        },
        Case {
            name: "empty condition, null and empty children",
            spec: "
  routes:
  - name: a
    condition: {}
  - name: b
    condition:
      all: [null, {method: GET}]
      any: []
",
            want: &[
                (
                    "Error 9:5 spec.routes[0].condition",
                    "a request match must have at least one of pathRegex, method, all, any or not",
                ),
                (
                    "Error 12:13 spec.routes[1].condition.all[0]",
                    "null condition in all",
                ),
                (
                    "Warning 13:7 spec.routes[1].condition.any",
                    "an empty any matches no request",
                ),
            ],
        },
        Case {
            name: "path regexes and methods",
            spec: "
  routes:
  - name: a
    condition: {pathRegex: \"/api/(users\"}
  - name: b
    condition: {pathRegex: \"/a|/b\"}
  - name: c
    condition: {pathRegex: \"^(/a|/b)$\", method: \"\"}
  - name: d
    condition: {pathRegex: \"  \", method: \"G ET\"}
",
            want: &[
                (
                    "Error 9:28 spec.routes[0].condition.pathRegex",
                    "invalid regex \"/api/(users\": unclosed group",
                ),
                (
                    "Warning 11:28 spec.routes[1].condition.pathRegex",
                    "pathRegex \"/a|/b\" is anchored as \"^/a|/b$\": the alternation is not \
                     grouped",
                ),
                (
                    "Error 13:49 spec.routes[2].condition.method",
                    "method must not be empty",
                ),
                (
                    "Error 15:28 spec.routes[3].condition.pathRegex",
                    "pathRegex must not be empty",
                ),
                (
                    "Error 15:42 spec.routes[3].condition.method",
                    "method \"G ET\" is not an HTTP method token",
                ),
            ],
        },
        Case {
            name: "zero timeout",
            spec: "
  routes:
  - name: a
    condition: {method: GET}
    timeout: 0s
",
            want: &[(
                "Error 10:14 spec.routes[0].timeout",
                "timeout must be greater than 0",
            )],
        },
    ]);
}

#[test]
fn response_classes() {
    run(&[Case {
        name: "conditions and status ranges (§9.3)",
        spec: "
  routes:
  - name: a
    condition: {method: GET}
    responseClasses:
    - isFailure: true
    - condition: {}
    - condition:
        status: {min: 700, max: 599}
    - condition:
        status: {min: 500, max: 400}
    - condition:
        not: {status: {min: 500}}
    - condition:
        any: [{status: {max: 503}}, null, {status: {}}]
",
        want: &[
            (
                "Error 11:7 spec.routes[0].responseClasses[0].condition",
                "response class has no condition",
            ),
            (
                "Error 12:7 spec.routes[0].responseClasses[1].condition",
                "a response match must have at least one of status, all, any or not",
            ),
            (
                "Error 14:23 spec.routes[0].responseClasses[2].condition.status.min",
                "status min 700 must be in 100..=599",
            ),
            (
                "Error 16:9 spec.routes[0].responseClasses[3].condition.status",
                "status range max 400 is smaller than min 500",
            ),
            (
                "Warning 18:15 spec.routes[0].responseClasses[4].condition.not.status",
                "status range has only min (500): the Linkerd docs say it matches that single \
                 code, but linkerd2-proxy reads the missing bound as 0 and drops the whole \
                 response class",
            ),
            (
                "Warning 20:16 spec.routes[0].responseClasses[5].condition.any[0].status",
                "status range has only max (503)",
            ),
            (
                "Error 20:37 spec.routes[0].responseClasses[5].condition.any[1]",
                "null condition in any",
            ),
            (
                "Warning 20:44 spec.routes[0].responseClasses[5].condition.any[2].status",
                "status range has neither min nor max",
            ),
        ],
    }]);
}

#[test]
fn retry_budget() {
    run(&[
        Case {
            name: "out of tower's ranges (C-20)",
            spec: "
  retryBudget:
    retryRatio: 2000
    minRetriesPerSecond: 3000000000
    ttl: 0s
",
            want: &[
                (
                    "Error 8:17 spec.retryBudget.retryRatio",
                    "retryRatio 2000 must be in 0..=1000",
                ),
                (
                    "Error 9:26 spec.retryBudget.minRetriesPerSecond",
                    "minRetriesPerSecond 3000000000 is above 2147483647",
                ),
                (
                    "Error 10:10 spec.retryBudget.ttl",
                    "ttl 0s must be in 1s..=60s",
                ),
            ],
        },
        Case {
            name: "negative ratio, long ttl, missing field",
            spec: "
  retryBudget:
    retryRatio: -1
    ttl: 120s
",
            want: &[
                (
                    "Error 8:17 spec.retryBudget.retryRatio",
                    "retryRatio -1 must be in 0..=1000",
                ),
                (
                    "Error 7:3 spec.retryBudget.minRetriesPerSecond",
                    "retryBudget.minRetriesPerSecond is required",
                ),
                (
                    "Error 9:10 spec.retryBudget.ttl",
                    "ttl 120s must be in 1s..=60s",
                ),
            ],
        },
        Case {
            name: "the edges of the ranges",
            spec: "
  retryBudget: {retryRatio: 1000, minRetriesPerSecond: 0, ttl: 60s}
",
            want: &[],
        },
    ]);
}

#[test]
fn dst_overrides_and_opaque_ports() {
    run(&[
        Case {
            name: "authorities and weights",
            spec: "
  dstOverrides:
  - weight: 1
  - authority: \"web v2:80\"
    weight: 1
  - authority: web-v2:0
  - authority: web-v2:http
    weight: 1
",
            want: &[
                (
                    "Error 8:5 spec.dstOverrides[0].authority",
                    "authority is required (host[:port])",
                ),
                (
                    "Error 9:16 spec.dstOverrides[1].authority",
                    "authority \"web v2:80\" must be host[:port]",
                ),
                (
                    "Error 11:16 spec.dstOverrides[2].authority",
                    "authority \"web-v2:0\" must be host[:port]",
                ),
                (
                    "Error 11:5 spec.dstOverrides[2].weight",
                    "weight is required",
                ),
                (
                    "Error 12:16 spec.dstOverrides[3].authority",
                    "authority \"web-v2:http\" must be host[:port]",
                ),
            ],
        },
        Case {
            name: "every weight zero routes to the apex (§2.3.3)",
            spec: "
  dstOverrides:
  - {authority: web-v1.prod.svc.cluster.local, weight: 0}
  - {authority: web-v2.prod.svc.cluster.local, weight: \"0m\"}
",
            want: &[(
                "Warning 7:3 spec.dstOverrides",
                "every dstOverrides weight is 0: linkerd2-proxy drops zero-weight overrides",
            )],
        },
        Case {
            name: "opaque ports",
            spec: "  opaquePorts: [0, 3306, 70000]\n",
            want: &[
                (
                    "Error 7:17 spec.opaquePorts[0]",
                    "opaque port 0 must be in 1..=65535",
                ),
                (
                    "Error 7:26 spec.opaquePorts[2]",
                    "opaque port 70000 must be in 1..=65535",
                ),
            ],
        },
    ]);
}
