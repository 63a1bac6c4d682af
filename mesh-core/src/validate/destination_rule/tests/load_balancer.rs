//! Load balancer: simple/consistent hash, hash keys, ring hash and maglev, warmup, locality.

use super::expect;

#[test]
fn load_balancer() {
    let lb = |body: &str| format!("{{host: a, trafficPolicy: {{loadBalancer: {body}}}}}");
    let ch = |body: &str| lb(&format!("{{consistentHash: {body}}}"));
    let cases: &[(String, &[(&str, &str)])] = &[
        (
            lb("{simple: RANDOM, consistentHash: {useSourceIp: true}}"),
            &[(
                "Error 4:33 spec.trafficPolicy.loadBalancer",
                "set only one of simple or consistentHash",
            )],
        ),
        (
            ch("{}"),
            &[(
                "Error 4:48 spec.trafficPolicy.loadBalancer.consistentHash",
                "consistentHash needs a hash key",
            )],
        ),
        (
            ch("{httpHeaderName: x-user, useSourceIp: true}"),
            &[(
                "Error 4:48 spec.trafficPolicy.loadBalancer.consistentHash",
                "exactly one hash key, found httpHeaderName, useSourceIp",
            )],
        ),
        (
            ch("{httpHeaderName: 'x user'}"),
            &[(
                "Error 4:81 spec.trafficPolicy.loadBalancer.consistentHash.httpHeaderName",
                "\"x user\" is not a valid HTTP header name",
            )],
        ),
        (
            ch("{httpQueryParameterName: ''}"),
            &[(
                "Error 4:89 spec.trafficPolicy.loadBalancer.consistentHash.httpQueryParameterName",
                "must not be empty",
            )],
        ),
        (
            ch("{useSourceIp: false}"),
            &[(
                "Warning 4:78 spec.trafficPolicy.loadBalancer.consistentHash.useSourceIp",
                "useSourceIp: false still selects source-IP hashing",
            )],
        ),
        (
            ch("{httpCookie: {ttl: 10s}}"),
            &[(
                "Error 4:65 spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name",
                "httpCookie needs a name",
            )],
        ),
        (
            ch("{httpCookie: {name: 'a;b'}}"),
            &[(
                "Error 4:84 spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name",
                "cookie name \"a;b\" is not a valid cookie name",
            )],
        ),
        (
            ch("{httpCookie: {name: u, ttl: 0.5ms}}"),
            &[(
                "Error 4:92 spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl",
                "duration 500us must be at least 1ms",
            )],
        ),
        (
            ch("{useSourceIp: true, minimumRingSize: 1024, ringHash: {}}"),
            &[(
                "Error 4:101 spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
                "cannot be combined with ringHash or maglev",
            )],
        ),
        (
            ch("{useSourceIp: true, minimumRingSize: 1024}"),
            &[(
                "Warning 4:101 spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
                "minimumRingSize is deprecated",
            )],
        ),
        (
            ch("{useSourceIp: true, ringHash: {}, maglev: {tableSize: 65537}}"),
            &[(
                "Error 4:48 spec.trafficPolicy.loadBalancer.consistentHash",
                "set only one of ringHash or maglev",
            )],
        ),
        (
            ch("{useSourceIp: true, ringHash: {minimumRingSize: 9000000}}"),
            &[(
                "Error 4:112 spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize",
                "minimumRingSize 9000000 is larger than the maximum 8388608",
            )],
        ),
        (
            ch("{useSourceIp: true, maglev: {}}"),
            &[(
                "Error 4:84 spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
                "maglev tableSize must be set",
            )],
        ),
        (
            ch("{useSourceIp: true, maglev: {tableSize: 65536}}"),
            &[(
                "Error 4:104 spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
                "maglev tableSize 65536 must be a prime number",
            )],
        ),
        (
            ch("{useSourceIp: true, maglev: {tableSize: 5000011}}"),
            &[(
                "Error 4:104 spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
                "must be less than 5000011",
            )],
        ),
        (
            lb("{warmup: {minimumPercent: 10}}"),
            &[(
                "Error 4:48 spec.trafficPolicy.loadBalancer.warmup.duration",
                "warmup needs a duration",
            )],
        ),
        (
            lb("{warmup: {duration: 10s, minimumPercent: 101}}"),
            &[(
                "Error 4:88 spec.trafficPolicy.loadBalancer.warmup.minimumPercent",
                "minimumPercent must be in range 0..100, got 101",
            )],
        ),
        (
            lb("{warmup: {duration: 10s, aggression: 0}}"),
            &[(
                "Error 4:84 spec.trafficPolicy.loadBalancer.warmup.aggression",
                "aggression must be greater than 0, got 0",
            )],
        ),
        (
            lb("{simple: RANDOM, warmup: {duration: 10s}}"),
            &[(
                "Warning 4:33 spec.trafficPolicy.loadBalancer",
                "warmup has no effect with RANDOM",
            )],
        ),
        (
            lb("{warmupDurationSecs: 10s}"),
            &[(
                "Warning 4:68 spec.trafficPolicy.loadBalancer.warmupDurationSecs",
                "warmupDurationSecs is deprecated",
            )],
        ),
    ];
    for (spec, want) in cases {
        expect(spec, want);
    }
}

#[test]
fn locality_lb_setting() {
    let loc = |body: &str| {
        format!(
            "{{host: a, trafficPolicy: {{outlierDetection: {{interval: 1s}}, \
             loadBalancer: {{localityLbSetting: {body}}}}}}}"
        )
    };
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "{distribute: [{from: a, to: {b: 100}}], failover: [{from: a, to: b}]}",
            &[(
                "Error 4:82 spec.trafficPolicy.loadBalancer.localityLbSetting",
                "set only one of distribute or failover",
            )],
        ),
        (
            "{distribute: [{from: 'us/*', to: {'us/z1': 60, 'us/z2': 30}}]}",
            &[(
                "Error 4:130 spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to",
                "the weights for \"us/*\" sum to 90; they must sum to 100",
            )],
        ),
        (
            "{distribute: [{from: us, to: {eu: 0, us: 100}}]}",
            &[(
                "Error 4:135 spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to.eu",
                "locality weight 0 for \"eu\" must be in range 1..100",
            )],
        ),
        (
            "{distribute: [{from: us, to: {eu: 50, eu/z1: 50}}]}",
            &[(
                "Error 4:146 spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to[\"eu/z1\"]",
                "locality \"eu/z1\" overlaps \"eu\"",
            )],
        ),
        (
            "{distribute: [{from: 'u*s', to: {eu: 100}}]}",
            &[(
                "Error 4:122 spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].from",
                "a wildcard '*' may appear once, at the end",
            )],
        ),
        (
            "{distribute: [{from: 'us//z', to: {eu: 100}}]}",
            &[(
                "Error 4:122 spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].from",
                "has an empty region, zone or subzone",
            )],
        ),
        (
            "{failover: [{from: us, to: us}]}",
            &[(
                "Error 4:128 spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0].to",
                "failover from and to are the same region \"us\"",
            )],
        ),
        (
            "{failover: [{from: us/z1, to: eu}]}",
            &[(
                "Error 4:120 spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0].from",
                "must be a region name (no '/', no '*')",
            )],
        ),
        (
            "{failover: [{from: us, to: eu}], failoverPriority: [topology.kubernetes.io/zone]}",
            &[(
                "Error 4:153 spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority[0]",
                "cannot be combined with failover",
            )],
        ),
    ];
    for (body, want) in cases {
        expect(&loc(body), want);
    }
    // Locality failover without outlier detection never triggers.
    expect(
        "{host: a, trafficPolicy: {loadBalancer: {localityLbSetting: {failover: [{from: us, to: eu}]}}}}",
        &[(
            "Warning 4:48 spec.trafficPolicy.loadBalancer.localityLbSetting",
            "locality failover needs outlierDetection",
        )],
    );
}
