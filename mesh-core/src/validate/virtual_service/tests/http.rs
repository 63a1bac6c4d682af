//! Actions, redirect, direct response, rewrite, authority and mirrors.

use super::{check, check_http, diags, http_rules};

#[test]
fn one_action_per_rule() {
    check_http(&[
        (
            "- match: [{uri: {prefix: /a}}]\n",
            &["Error 7:5 spec.http[0] | HTTP route, redirect or direct_response is required"],
        ),
        (
            "- route: [{destination: {host: a}}]\n  redirect: {uri: /b}\n",
            &["Error 7:5 spec.http[0].route | HTTP route cannot contain both route and redirect"],
        ),
        (
            "- redirect: {uri: /b}\n  fault: {abort: {httpStatus: 500, percentage: {value: 1}}}\n",
            &["Error 8:5 spec.http[0].fault | HTTP route cannot contain both fault and redirect"],
        ),
        (
            "- redirect: {uri: /b}\n  rewrite: {uri: /c}\n",
            &[
                "Error 8:5 spec.http[0].rewrite | HTTP route cannot contain both rewrite and redirect",
            ],
        ),
        (
            "- redirect: {uri: /b}\n  directResponse: {status: 200}\n",
            &["Error 8:5 spec.http[0].directResponse | both direct_response and redirect"],
        ),
        (
            "- route: [{destination: {host: a}}]\n  directResponse: {status: 200}\n",
            &[
                "Error 7:5 spec.http[0].route | HTTP route cannot contain both route and direct_response",
            ],
        ),
        (
            "- directResponse: {status: 200}\n  fault: {delay: {fixedDelay: 1s, percentage: {value: 1}}}\n  rewrite: {uri: /c}\n",
            &[
                "Error 8:5 spec.http[0].fault | HTTP route cannot contain both fault and direct_response",
                "Error 9:5 spec.http[0].rewrite | HTTP route cannot contain both rewrite and direct_response",
            ],
        ),
    ]);
}

#[test]
fn delegation() {
    check_http(&[
        (
            "- delegate: {name: b}\n  route: [{destination: {host: a}}]\n",
            &["Error 8:5 spec.http[0].route | root HTTP route must not specify route"],
        ),
        (
            "- delegate: {namespace: Bad_NS}\n",
            &[
                "Error 7:5 spec.http[0].delegate.name | delegate name is required",
                "Error 7:27 spec.http[0].delegate.namespace | delegate namespace \"Bad_NS\" is not a valid namespace name (DNS-1123 label)",
            ],
        ),
    ]);
    // A delegate VS (no hosts) cannot delegate again.
    check(&[(
        "http:\n- delegate: {name: b}\n",
        &["Error 6:5 spec.http[0].delegate | delegate HTTP route cannot contain delegate"],
    )]);
}

#[test]
fn redirect() {
    check_http(&[
        (
            "- redirect: {redirectCode: 302}\n",
            &[
                "Error 7:5 spec.http[0].redirect | redirect must specify uri, prefixRewrite, authority, scheme, port or derivePort",
            ],
        ),
        (
            "- redirect: {uri: /a, prefixRewrite: /b}\n",
            &[
                "Error 7:40 spec.http[0].redirect.prefixRewrite | redirect may set only one of uri and prefixRewrite",
            ],
        ),
        (
            "- match: [{uri: {prefix: /p}}, {uri: {exact: /a}}]\n  redirect: {prefixRewrite: /b}\n",
            &[
                "Error 8:31 spec.http[0].redirect.prefixRewrite | every uri match of the rule must be a prefix match; match[1].uri is not",
            ],
        ),
        (
            "- redirect: {port: 8080, derivePort: FROM_REQUEST_PORT}\n",
            &[
                "Error 7:40 spec.http[0].redirect.derivePort | redirect may set only one of port and derivePort",
            ],
        ),
        (
            "- redirect: {port: 70000}\n",
            &[
                "Error 7:22 spec.http[0].redirect.port | port number 70000 must be in the range 1..65535",
            ],
        ),
        (
            "- redirect: {scheme: ftp}\n",
            &[
                "Error 7:24 spec.http[0].redirect.scheme | invalid redirect scheme \"ftp\", must be \"http\" or \"https\"",
            ],
        ),
        (
            "- redirect: {uri: /a, redirectCode: 200}\n",
            &[
                "Error 7:39 spec.http[0].redirect.redirectCode | 200 is not a valid redirect code, must be 3xx (301, 302, 303, 307 or 308)",
            ],
        ),
        (
            "- redirect: {uri: /a, redirectCode: 304}\n",
            &[
                "Warning 7:39 spec.http[0].redirect.redirectCode | redirect code 304 passes Istio validation but Envoy supports only 301, 302, 303, 307 and",
            ],
        ),
        (
            "- redirect: {authority: \"a\\r\\nx-injected: 1\"}\n",
            &[
                "Error 7:27 spec.http[0].redirect.authority | header value \"a\\r\\nx-injected: 1\" contains a control character (CR, LF, NUL, ...)",
            ],
        ),
    ]);
}

#[test]
fn direct_response() {
    check_http(&[
        (
            "- directResponse: {status: 601}\n",
            &[
                "Error 7:30 spec.http[0].directResponse.status | HTTP status 601 must be in the range 200-599",
            ],
        ),
        // Istio's quirk: 600 passes.
        ("- directResponse: {status: 600}\n", &[]),
        (
            "- directResponse: {body: {string: hi}}\n",
            &[
                "Error 7:5 spec.http[0].directResponse.status | HTTP status 0 must be in the range 200-599",
            ],
        ),
        (
            "- directResponse: {status: 200, body: {string: a, bytes: YQ==}}\n",
            &[
                "Error 7:35 spec.http[0].directResponse.body | body may set only one of string and bytes",
            ],
        ),
        (
            "- directResponse: {status: 200, body: {bytes: \"not base64!\"}}\n",
            &[
                "Error 7:49 spec.http[0].directResponse.body.bytes | body bytes must be base64 (for example aGVsbG8= for \"hello\"); use string for text",
            ],
        ),
    ]);
    let big = |n: usize| {
        http_rules(&format!(
            "- directResponse: {{status: 200, body: {{string: {}}}}}\n",
            "x".repeat(n)
        ))
    };
    assert_eq!(
        diags(&big(2 * 1024 * 1024)),
        [
            "Error 7:35 spec.http[0].directResponse.body | direct response body is 2097152 bytes; \
          it must be at most 1 MiB (1048576 bytes): large direct responses impact control plane \
          performance"
        ]
    );
    assert_eq!(
        diags(&big(200 * 1024)),
        [
            "Warning 7:35 spec.http[0].directResponse.body | direct response body is 204800 bytes; \
          bodies over 100 KiB may impact control plane performance"
        ]
    );
    assert!(diags(&big(100 * 1024)).is_empty());
}

#[test]
fn rewrite() {
    check_http(&[
        (
            "- rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:24 spec.http[0].rewrite.uriRegexRewrite | rewrite may only contain one of uri or uriRegexRewrite",
            ],
        ),
        (
            "- rewrite: {}\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:5 spec.http[0].rewrite | rewrite must specify at least one of uri, uriRegexRewrite or authority",
            ],
        ),
        (
            "- rewrite: {uriRegexRewrite: {match: a}}\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:15 spec.http[0].rewrite.uriRegexRewrite | uriRegexRewrite requires both match and rewrite",
            ],
        ),
        (
            "- rewrite: {uriRegexRewrite: {match: \"([a-z\", rewrite: x}}\n  route: [{destination: {host: a}}]\n",
            &["Error 7:40 spec.http[0].rewrite.uriRegexRewrite.match | invalid regex \"([a-z\""],
        ),
        // The authority in two places.
        (
            "- rewrite: {authority: b}\n  headers: {request: {set: {Host: c}}}\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 8:37 spec.http[0].headers.request.set.Host | authority header cannot be set multiple times: have \"b\", attempting to set \"c\"; keep",
            ],
        ),
        (
            "- route:\n  - destination: {host: a}\n    headers: {request: {set: {host: b}, add: {\":authority\": c}}}\n",
            &[
                "Error 9:63 spec.http[0].route[0].headers.request.add[\":authority\"] | authority header cannot be set multiple times: have \"b\", attempting to set \"c\"; keep",
            ],
        ),
    ]);
}

#[test]
fn mirrors() {
    check_http(&[
        (
            "- route: [{destination: {host: a}}]\n  mirror: {host: b}\n  mirrors: [{destination: {host: c}}]\n",
            &["Error 9:5 spec.http[0].mirrors | HTTP route cannot contain both mirror and mirrors"],
        ),
        (
            "- route: [{destination: {host: a}}]\n  mirrors: [{percentage: {value: 50}}, {destination: {host: \"*\"}, percentage: {value: -1}}]\n",
            &[
                "Error 8:15 spec.http[0].mirrors[0] | destination is required for mirrors",
                "Error 8:63 spec.http[0].mirrors[1].destination.host | invalid destination host *: a destination must name one service",
                "Error 8:89 spec.http[0].mirrors[1].percentage.value | percentage must be in range 0..100, got -1",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  mirror: {host: b}\n  mirrorPercentage: {value: 150}\n",
            &[
                "Error 9:31 spec.http[0].mirrorPercentage.value | percentage must be in range 0..100, got 150",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  mirror: {host: b}\n  mirrorPercent: 120\n",
            &[
                "Warning 9:20 spec.http[0].mirrorPercent | using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead",
                "Error 9:20 spec.http[0].mirrorPercent | mirrorPercent must have a max value of 100 (it has 120)",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  mirrorPercentage: {value: 5}\n",
            &[
                "Warning 8:5 spec.http[0].mirrorPercentage | mirrorPercentage has no effect without mirror",
            ],
        ),
    ]);
}
