//! Timeouts, retries, fault injection and CORS.

use super::check_http;

#[test]
fn timeouts_and_durations() {
    check_http(&[
        (
            "- route: [{destination: {host: a}}]\n  timeout: 500us\n",
            &["Error 8:14 spec.http[0].timeout | duration 500us must be at least 1ms"],
        ),
        (
            "- route: [{destination: {host: a}}]\n  timeout: 1500us\n",
            &[
                "Error 8:14 spec.http[0].timeout | duration 1500us must be a whole number of milliseconds",
            ],
        ),
        // C-18: zero is not "disabled" here, it is rejected like in Istio.
        (
            "- route: [{destination: {host: a}}]\n  timeout: 0s\n",
            &["Error 8:14 spec.http[0].timeout | duration 0s must be at least 1ms"],
        ),
        // C-17 and C-19 are caught by the duration parser before validation.
        (
            "- route: [{destination: {host: a}}]\n  timeout: -5s\n",
            &["Error 8:14 spec.http[0].timeout | negative duration \"-5s\""],
        ),
        (
            "- route: [{destination: {host: a}}]\n  timeout: 99999999999h\n",
            &["Error 8:14 spec.http[0].timeout | duration \"99999999999h\" is too large"],
        ),
    ]);
}

#[test]
fn retries() {
    check_http(&[
        (
            "- route: [{destination: {host: a}}]\n  retries: {attempts: -1}\n",
            &[
                "Error 8:25 spec.http[0].retries.attempts | attempts -1 cannot be negative (0 disables retries)",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  retries: {perTryTimeout: 1s}\n",
            &[
                "Error 8:5 spec.http[0].retries | http retry policy configured when attempts are set to 0 (disabled)",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  retries: {attempts: 2, retryOn: \"5xx, reset\"}\n",
            &[
                "Error 8:37 spec.http[0].retries.retryOn | \" reset\" is not a valid retryOn policy (remove the spaces around commas): use 5xx,",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  retries: {attempts: 2, retryOn: \"5xx,,599,bogus\"}\n",
            &[
                "Error 8:37 spec.http[0].retries.retryOn | \"\" is not a valid retryOn policy (remove the empty entry between commas): use 5xx,",
                "Error 8:37 spec.http[0].retries.retryOn | \"599\" is not a valid retryOn policy: use 5xx, gateway-error, reset,",
                "Error 8:37 spec.http[0].retries.retryOn | \"bogus\" is not a valid retryOn policy: use 5xx, gateway-error, reset,",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  retries: {attempts: 2, retryOn: \"retriable-status-codes,409,425,unavailable\"}\n",
            &[],
        ),
        (
            "- route: [{destination: {host: a}}]\n  timeout: 5s\n  retries: {attempts: 2, perTryTimeout: 10s, backoff: 0s}\n",
            &[
                "Warning 9:43 spec.http[0].retries.perTryTimeout | perTryTimeout 10s is longer than the route timeout 5s, which bounds all tries together:",
                "Error 9:57 spec.http[0].retries.backoff | duration 0s must be at least 1ms",
            ],
        ),
    ]);
}

#[test]
fn fault_injection() {
    check_http(&[
        (
            "- route: [{destination: {host: a}}]\n  fault: {}\n",
            &[
                "Error 8:5 spec.http[0].fault | HTTP fault injection must have an abort and/or a delay",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  fault: {delay: {exponentialDelay: 1s, percentage: {value: 1}}}\n",
            &[
                "Error 8:39 spec.http[0].fault.delay.exponentialDelay | exponentialDelay is not supported; use fixedDelay",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  fault: {delay: {percentage: {value: 0.00001}}}\n",
            &[
                "Error 8:13 spec.http[0].fault.delay | fault delay requires fixedDelay",
                "Error 8:41 spec.http[0].fault.delay.percentage.value | percentage 0.00001 is neither 0.0, nor in range [0.0001, 100.0]",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  fault: {delay: {fixedDelay: 1s, percent: 120}}\n",
            &[
                "Warning 8:46 spec.http[0].fault.delay.percent | percent is deprecated; use percentage: {value: ...}",
                "Error 8:46 spec.http[0].fault.delay.percent | percentage 120 is not in range 0..100",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  fault: {delay: {fixedDelay: 1s}}\n",
            &[
                "Warning 8:13 spec.http[0].fault.delay | fault delay has no percentage: no request is delayed",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  fault: {abort: {percentage: {value: 150}}}\n",
            &[
                "Warning 8:13 spec.http[0].fault.abort | fault abort has no error type; the fault is dropped (set httpStatus or grpcStatus)",
                "Error 8:41 spec.http[0].fault.abort.percentage.value | percentage 150 is neither 0.0, nor in range [0.0001, 100.0]",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  fault: {abort: {http2Error: x, percentage: {value: 1}}}\n",
            &[
                "Error 8:33 spec.http[0].fault.abort.http2Error | HTTP/2 abort fault injection is not supported",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  fault: {abort: {httpStatus: 601, grpcStatus: \"14\", percentage: {value: 1}}}\n",
            &[
                "Error 8:13 spec.http[0].fault.abort | fault abort may set only one of httpStatus, grpcStatus and http2Error",
                "Error 8:33 spec.http[0].fault.abort.httpStatus | HTTP status 601 must be in the range 200-599",
                "Error 8:50 spec.http[0].fault.abort.grpcStatus | gRPC status \"14\" is not supported",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  fault: {abort: {httpStatus: 600}}\n",
            &[
                "Warning 8:13 spec.http[0].fault.abort | fault abort has no percentage: no request is aborted",
            ],
        ),
    ]);
}

#[test]
fn cors() {
    check_http(&[
        (
            "- route: [{destination: {host: a}}]\n  corsPolicy: {allowOrigins: [{exact: \"\"}, {}, {regex: \"(\"}, {prefix: \"\"}]}\n",
            &[
                "Error 8:33 spec.http[0].corsPolicy.allowOrigins[0] | allowOrigins entry must set a non-empty exact, prefix or regex",
                "Error 8:46 spec.http[0].corsPolicy.allowOrigins[1] | allowOrigins entry must set a non-empty exact, prefix or regex",
                "Error 8:58 spec.http[0].corsPolicy.allowOrigins[2].regex | invalid regex \"(\": unclosed group",
                "Error 8:64 spec.http[0].corsPolicy.allowOrigins[3] | allowOrigins entry must set a non-empty exact, prefix or regex",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  corsPolicy: {allowMethods: [GET, get], allowHeaders: [\"\"], exposeHeaders: [\"bad header\"]}\n",
            &[
                "Error 8:38 spec.http[0].corsPolicy.allowMethods[1] | \"get\" is not a supported HTTP method: use one of GET, HEAD, POST, PUT, PATCH, DELETE,",
                "Error 8:59 spec.http[0].corsPolicy.allowHeaders[0] | header name cannot be empty",
                "Error 8:80 spec.http[0].corsPolicy.exposeHeaders[0] | header name \"bad header\" is not a valid header name",
            ],
        ),
        (
            "- route: [{destination: {host: a}}]\n  corsPolicy: {maxAge: 1500ms, allowOrigin: [a]}\n",
            &[
                "Warning 8:34 spec.http[0].corsPolicy.allowOrigin | allowOrigin is deprecated; use allowOrigins with exact matches",
                "Error 8:26 spec.http[0].corsPolicy.maxAge | maxAge 1500ms must be a whole number of seconds",
            ],
        ),
    ]);
}
