//! Match blocks and header operations.

use super::{check, check_http};

#[test]
fn string_matches() {
    check_http(&[
        // An empty prefix is allowed for uri only.
        (
            "- match: [{uri: {prefix: \"\"}, method: {prefix: \"\"}}]\n  route: [{destination: {host: a}}]\n",
            &["Error 7:50 spec.http[0].match[0].method.prefix | prefix match must not be empty"],
        ),
        (
            "- match: [{uri: {exact: /a, prefix: /b}, authority: {regex: \"a{2,1}\"}}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:14 spec.http[0].match[0].uri | only one of exact, prefix or regex may be set in a string match",
                "Error 7:63 spec.http[0].match[0].authority.regex | invalid regex \"a{2,1}\": invalid repetition count range, the start must be <= the end",
            ],
        ),
        (
            "- match: [{uri: {regex: \"/A.*\"}, ignoreUriCase: true}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Warning 7:51 spec.http[0].match[0].ignoreUriCase | ignoreUriCase has no effect on a uri regex match",
            ],
        ),
    ]);
}

#[test]
fn header_and_query_matches() {
    check_http(&[
        // Null values are rejected; `{}` is the presence form.
        (
            "- match: [{headers: {x: null}, withoutHeaders: {z: ~}, queryParams: {q: null}}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:27 spec.http[0].match[0].headers.x | header match \"x\" cannot be null; write {} to match presence",
                "Error 7:54 spec.http[0].match[0].withoutHeaders.z | header match \"z\" cannot be null; write {} to match presence",
                "Error 7:75 spec.http[0].match[0].queryParams.q | query parameter match \"q\" cannot be null; write {} to match presence",
            ],
        ),
        // `regex: "*"` is not RE2 (rejected in headers) but is the presence token in
        // withoutHeaders (accepted, not compiled).
        (
            "- match: [{headers: {x: {regex: \"*\"}}, withoutHeaders: {x: {regex: \"*\"}}}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:35 spec.http[0].match[0].headers.x.regex | invalid regex \"*\": repetition operator missing expression",
            ],
        ),
        (
            "- match: [{headers: {x: {prefix: \"\"}}, queryParams: {q: {prefix: \"\"}}}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:36 spec.http[0].match[0].headers.x.prefix | prefix match must not be empty",
                "Error 7:68 spec.http[0].match[0].queryParams.q.prefix | prefix match must not be empty",
            ],
        ),
        // Names: tokens; the five pseudo-headers; lower case expected (a warning only).
        (
            "- match: [{headers: {\"bad name\": {}, \":authority\": {exact: a}, \":foo\": {}, X-Up: {}}}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Warning 7:78 spec.http[0].match[0].headers.X-Up | header name \"X-Up\" should be lower case (\"x-up\"); it still matches case-insensitively",
                "Error 7:24 spec.http[0].match[0].headers[\"bad name\"] | header name \"bad name\" is not a valid header name (letters, digits and !#$%&'*+-.^_`|~",
                "Error 7:66 spec.http[0].match[0].headers[\":foo\"] | header name \":foo\" is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
            ],
        ),
    ]);
}

#[test]
fn jwt_claim_routing_needs_a_gateway_only_virtual_service() {
    let rule = "http:\n- match: [{headers: {\"@request.auth.claims.group\": {exact: a}}, withoutHeaders: {\"@request.auth.claims[a][b]\": {}}}]\n  route: [{destination: {host: a}}]\n";
    let mesh = format!("hosts: [a]\n{rule}");
    let both = format!("hosts: [a]\ngateways: [mesh, gw]\n{rule}");
    let gateway = format!("hosts: [a]\ngateways: [gw]\n{rule}");
    check(&[
        (
            &mesh,
            &[
                "Error 7:24 spec.http[0].match[0].headers[\"@request.auth.claims.group\"] | JWT claim based routing (key: @request.auth.claims.group) is only supported for virtual",
                "Error 7:84 spec.http[0].match[0].withoutHeaders[\"@request.auth.claims[a][b]\"] | JWT claim based routing (key: @request.auth.claims[a][b]) is only supported for virtual",
            ],
        ),
        (
            &both,
            &[
                "Error 8:24 spec.http[0].match[0].headers[\"@request.auth.claims.group\"] | JWT claim based routing (key: @request.auth.claims.group) is only supported for virtual",
                "Error 8:84 spec.http[0].match[0].withoutHeaders[\"@request.auth.claims[a][b]\"] | JWT claim based routing (key: @request.auth.claims[a][b]) is only supported for virtual",
            ],
        ),
        (&gateway, &[]),
    ]);
}

#[test]
fn selectors() {
    check_http(&[
        (
            "- match: [{port: 70000}, {port: 0}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:20 spec.http[0].match[0].port | port number 70000 must be in the range 1..65535",
            ],
        ),
        (
            "- match: [{sourceLabels: {\"app!\": x, app: -bad, example.com/tier: web}, sourceNamespace: Bad_NS}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Error 7:37 spec.http[0].match[0].sourceLabels[\"app!\"] | label key \"app!\" is invalid: an optional DNS subdomain and '/', then 1-63 letters,",
                "Error 7:45 spec.http[0].match[0].sourceLabels.app | label value \"-bad\" of \"app\" is invalid: at most 63 letters, digits, '-', '_' or '.',",
                "Error 7:92 spec.http[0].match[0].sourceNamespace | sourceNamespace match \"Bad_NS\" is invalid: it must be a namespace name (DNS-1123 label)",
            ],
        ),
        (
            "- match: [{gateways: [ns/, gw.ns], sourceLabels: {app: a}}]\n  route: [{destination: {host: a}}]\n",
            &[
                "Warning 7:30 spec.http[0].match[0].gateways[1] | using legacy gateway name format \"gw.ns\"; prefer the <namespace>/<name> format:",
                "Warning 7:38 spec.http[0].match[0].sourceLabels | sourceLabels is ignored because this match block sets gateways",
                "Error 7:25 spec.http[0].match[0].gateways[0] | gateway \"ns/\": namespace and gateway name cannot be empty (write name or namespace/name)",
            ],
        ),
    ]);
}

#[test]
fn header_operations() {
    check_http(&[
        // Requests may set the authority, no other pseudo-header.
        (
            "- route: [{destination: {host: a}}]\n  headers: {request: {set: {\":path\": /x, \":authority\": b}, add: {\"bad name\": v}, remove: [host, \":method\"]}}\n",
            &[
                "Error 8:40 spec.http[0].headers.request.set[\":path\"] | cannot set request header \":path\": header cannot have \":\" prefix (only :authority may",
                "Error 8:80 spec.http[0].headers.request.add[\"bad name\"] | header name \"bad name\" is not a valid HTTP header name (letters, digits and",
                "Error 8:93 spec.http[0].headers.request.remove[0] | cannot remove request header \"host\": the Host header can only be rewritten on requests",
                "Error 8:99 spec.http[0].headers.request.remove[1] | cannot remove request header \":method\": header cannot have \":\" prefix (pseudo-headers",
            ],
        ),
        // Responses may name neither host nor pseudo-headers.
        (
            "- route: [{destination: {host: a}}]\n  headers: {response: {set: {\":status\": \"200\"}, add: {Host: h}, remove: [\"\"]}}\n",
            &[
                "Error 8:43 spec.http[0].headers.response.set[\":status\"] | cannot set response header \":status\": header cannot have \":\" prefix (pseudo-headers",
                "Error 8:63 spec.http[0].headers.response.add.Host | cannot add response header \"Host\": the Host header can only be rewritten on requests",
                "Error 8:76 spec.http[0].headers.response.remove[0] | header name cannot be empty",
            ],
        ),
        // Values: no control characters (C-25), well-formed %VARIABLE% substitutions.
        (
            "- route: [{destination: {host: a}}]\n  headers: {request: {set: {x-a: \"v\\r\\nx-b: 1\", x-c: \"100%\", x-d: \"%START_TIME%%\", x-e: \"%HOSTNAME%\", x-f: \"100%%\"}}}\n",
            &[
                "Error 8:36 spec.http[0].headers.request.set.x-a | header value \"v\\r\\nx-b: 1\" contains a control character (CR, LF, NUL, ...)",
                "Error 8:56 spec.http[0].headers.request.set.x-c | header value \"100%\" has a malformed %VARIABLE% substitution: a '%' at the end opens no",
                "Error 8:69 spec.http[0].headers.request.set.x-d | header value \"%START_TIME%%\" has a malformed %VARIABLE% substitution: a '%' at the end",
            ],
        ),
        // Destination-level operations follow the same rules.
        (
            "- route:\n  - destination: {host: a}\n    headers: {request: {remove: [\":path\"]}, response: {set: {x: \"%REQ(\"}}}\n",
            &[
                "Error 9:36 spec.http[0].route[0].headers.request.remove[0] | cannot remove request header \":path\": header cannot have \":\" prefix (pseudo-headers",
                "Error 9:67 spec.http[0].route[0].headers.response.set.x | header value \"%REQ(\" has a malformed %VARIABLE% substitution: a variable is not closed",
            ],
        ),
    ]);
}
