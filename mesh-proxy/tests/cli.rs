//! The command line as a user runs it: exit codes, text and JSON output.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mesh-proxy"))
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/resources")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn temp_file(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mesh-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, body).unwrap();
    p
}

const BAD: &str = "apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: bad
  namespace: production
spec:
  hosts: [myapp]
  http:
  - route:
    - destination: {host: myapp, subset: v1}
      weight: -5
    - destination: {host: myapp, subset: v2}
      weight: 10
";

#[test]
fn validate_accepts_the_examples() {
    let o = bin().arg("validate").arg(examples()).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("valid: 12 resource(s) in 10 file(s); 0 error(s)"),
        "{}",
        text(&o)
    );
}

#[test]
fn validate_points_at_the_bad_field_and_exits_1() {
    let f = temp_file("bad", BAD);
    let o = bin().arg("validate").arg(&f).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("error: spec.http[0].route[0].weight:"), "{t}");
    assert!(
        t.contains(&format!(
            "--> {}:11:15 (VirtualService production/bad)",
            f.display()
        )),
        "{t}"
    );
    assert!(t.contains("11 |       weight: -5"), "{t}");
}

#[test]
fn validate_json_output() {
    let f = temp_file("badjson", BAD);
    let o = bin()
        .args(["validate", "--output", "json"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["errors"], 1);
    let d = &v["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 11);
    assert_eq!(d["column"], 15);
    assert_eq!(d["resource"], "VirtualService production/bad");
    assert_eq!(d["path"], "spec.http[0].route[0].weight");
}

#[test]
fn unknown_fields_fail_unless_lenient() {
    let f = temp_file(
        "unknown",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a, namespace: x}\nspec:\n  host: a\n  trafficPolicy:\n    loadBalancer: {simple: RANDOM, fancy: 1}\n",
    );
    let o = bin().arg("validate").arg(&f).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("unknown field \"fancy\""));
    let o = bin()
        .args(["validate", "--lenient"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("warning:"));
    // Never for authorization: an ignored notPaths would widen a DENY.
    let f = temp_file(
        "unknown-authz",
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: x}\nspec:\n  action: DENY\n  rules:\n  - to:\n    - operation: {notpaths: [/admin]}\n",
    );
    let o = bin()
        .args(["validate", "--lenient"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn explain_prints_the_decision_json() {
    let dir = examples();
    let o = bin()
        .args(["explain", "--config"])
        .arg(dir.join("virtualservice-myapp.yaml"))
        .arg(dir.join("destinationrule-myapp.yaml"))
        .args([
            "--request",
            "GET http://myapp.example.com/api/users?x=1",
            "--workload",
            "production/frontend",
            "--seed",
            "7",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["route"]["virtual_service"], "production/myapp");
    assert_eq!(v["route"]["rule"], 1);
    assert_eq!(v["route"]["action"], "route");
    assert_eq!(v["route"]["destinations"][1]["weight"], 10);
    for key in [
        "request",
        "proxy",
        "service",
        "route",
        "destination_policy",
        "profile",
        "mtls",
        "authz",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn explain_refuses_invalid_config() {
    let f = temp_file("badexplain", BAD);
    let o = bin()
        .args(["explain", "--config"])
        .arg(&f)
        .args(["--request", "GET http://myapp/"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("nothing explained"), "{}", text(&o));
}

#[test]
fn explain_headers_and_gateways() {
    let dir = examples();
    let o = bin()
        .args(["explain", "-c"])
        .arg(&dir)
        .args([
            "-r",
            "GET http://myapp.example.com/x",
            "--gateway",
            "production/myapp-gateway",
            "--port",
            "80",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["route"]["redirect"]["location"],
        "https://myapp.example.com/x"
    );
    let o = bin()
        .args(["explain", "-c"])
        .arg(&dir)
        .args(["-r", "GET http://myapp/", "-H", "no-colon"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("expected \"name: value\""));
}

/// `mesh-proxy explain` fills `authz` for the receiving workload (`--destination-workload`),
/// with the peer from `--source-principal` and `--mtls`.
#[test]
fn explain_authz_at_the_destination_workload() {
    let dir = examples();
    let run = |line: &str, extra: &[&str]| {
        let o = bin()
            .args(["explain", "-c"])
            .arg(&dir)
            .args(["-r", line, "--workload", "production/frontend"])
            .args([
                "--destination-workload",
                "production/myapp",
                "--destination-labels",
                "app=myapp",
                "--source-ip",
                "10.1.2.3",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["authz"].clone()
    };
    let frontend = [
        "--source-principal",
        "cluster.local/ns/production/sa/frontend",
    ];
    let mtls: Vec<&str> = frontend.iter().copied().chain(["--mtls"]).collect();
    let a = run("GET http://myapp/api/users?id=1", &mtls);
    assert_eq!(a["workload"], "production/myapp");
    assert_eq!(a["decision"], "ALLOW");
    assert_eq!(a["policy"], "production/myapp-authz");
    assert_eq!(a["rule"], 0);
    assert_eq!(a["path"], "/api/users");
    // The same principal without --mtls is plaintext: no identity, implicit deny.
    let a = run("GET http://myapp/api/users", &frontend);
    assert_eq!(a["decision"], "DENY");
    assert_eq!(a["status"], 403);
    assert_eq!(
        a["reason"],
        "denied: ALLOW policies apply to the workload and none matched"
    );
    // Health checks are open to anyone; dot segments are judged normalized.
    let a = run("GET http://myapp/api/../health", &[]);
    assert_eq!(a["decision"], "ALLOW");
    assert_eq!(a["path"], "/health");
    assert_eq!(a["rule"], 1);
    // Without a destination, the sidecar's own workload (no policy selects it) is judged.
    let o = bin()
        .args(["explain", "-c"])
        .arg(&dir)
        .args([
            "-r",
            "GET http://myapp/admin",
            "--workload",
            "production/frontend",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["authz"]["workload"], "production/frontend");
    assert_eq!(v["authz"]["decision"], "ALLOW");
    assert_eq!(v["authz"]["policies"], serde_json::json!([]));
}

/// `explain` on the shipped PeerAuthentications, as JSON.
fn explain_mtls(extra: &[&str]) -> serde_json::Value {
    let o = bin()
        .args(["explain", "-c"])
        .arg(examples().join("peerauthentication.yaml"))
        .args(["-r", "GET http://myapp.production:8080/"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["mtls"].clone()
}

#[test]
fn explain_mtls_for_the_receiving_workload() {
    // The client itself receives when no destination is named: default/client has only the
    // mesh-wide STRICT policy, and a plaintext peer is refused.
    let v = explain_mtls(&[]);
    assert_eq!(v["workload"], "default/client");
    assert_eq!(v["mode"], "STRICT");
    assert_eq!(v["decided_by"]["policy"], "istio-system/default");
    assert_eq!(v["connection"], "plaintext");
    assert_eq!(v["accepted"], false);
    // The legacy workload's own PERMISSIVE policy wins over the namespace's STRICT.
    let v = explain_mtls(&[
        "--destination-workload",
        "production/legacy",
        "--destination-labels",
        "app=legacy-service",
    ]);
    assert_eq!(v["workload"], "production/legacy");
    assert_eq!(v["mode"], "PERMISSIVE");
    assert_eq!(v["decided_by"]["scope"], "workload");
    assert_eq!(v["accepted"], true);
    // With --mtls and a principal the peer is identified and accepted under STRICT.
    let v = explain_mtls(&[
        "--destination-workload",
        "production/myapp",
        "--mtls",
        "--source-principal",
        "cluster.local/ns/frontend/sa/web",
    ]);
    assert_eq!(v["mode"], "STRICT");
    assert_eq!(v["decided_by"]["scope"], "namespace");
    assert_eq!(v["connection"], "mtls");
    assert_eq!(v["peer_principal"], "cluster.local/ns/frontend/sa/web");
    assert_eq!(v["accepted"], true);
}

#[test]
fn explain_rejects_a_malformed_destination_workload() {
    let o = bin()
        .args(["explain", "-c"])
        .arg(examples().join("peerauthentication.yaml"))
        .args([
            "-r",
            "GET http://myapp/",
            "--destination-workload",
            "noslash",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--destination-workload \"noslash\": expected NS/NAME"),
        "{}",
        text(&o)
    );
}

// === certs and run ===

#[test]
fn certs_writes_a_ca_and_workload_files() {
    let out = std::env::temp_dir().join(format!("mesh-cli-{}-certs", std::process::id()));
    let o = bin()
        .args(["certs", "--out"])
        .arg(&out)
        .args([
            "--workload",
            "production/myapp",
            "--workload",
            "production/frontend",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("spiffe://cluster.local/ns/production/sa/frontend"));
    for f in ["ca.pem", "production.myapp.pem", "production.myapp.key"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let bad = bin()
        .args(["certs", "--out"])
        .arg(&out)
        .args(["--workload", "no-slash"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("no-slash"));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn run_refuses_a_bootstrap_with_an_unknown_field() {
    let boot = temp_file(
        "boot-unknown",
        "workload: {name: a, namespace: production, serviceAccount: a}\n\
         inbound: {listen: \"127.0.0.1:0\", app: \"127.0.0.1:1\"}\n\
         identity: {cert: c.pem, key: k.pem, trustBundle: ca.pem}\n\
         admn: {listen: \"127.0.0.1:0\"}\n",
    );
    let o = bin()
        .args(["run", "--config"])
        .arg(examples())
        .arg("--bootstrap")
        .arg(&boot)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("unknown field \"admn\""), "{t}");
    assert!(t.contains("boot-unknown.yaml:4:1"), "{t}");
}

#[test]
fn run_fails_closed_on_invalid_resources() {
    let bad = temp_file("run-bad-resources", BAD);
    let boot = temp_file(
        "boot-ok",
        "workload: {name: a, namespace: production, serviceAccount: a}\n\
         inbound: {listen: \"127.0.0.1:0\", app: \"127.0.0.1:1\"}\n\
         identity: {cert: c.pem, key: k.pem, trustBundle: ca.pem}\n",
    );
    let o = bin()
        .args(["run", "--config"])
        .arg(&bad)
        .arg("--bootstrap")
        .arg(&boot)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("weight"), "{t}");
    assert!(t.contains("not starting"), "{t}");
}

#[test]
fn run_fails_when_the_identity_files_are_missing() {
    let boot = temp_file(
        "boot-nofiles",
        "workload: {name: a, namespace: production, serviceAccount: a}\n\
         inbound: {listen: \"127.0.0.1:0\", app: \"127.0.0.1:1\"}\n\
         identity: {cert: missing.pem, key: missing.key, trustBundle: ca.pem}\n",
    );
    let o = bin()
        .args(["run", "--config"])
        .arg(examples())
        .arg("--bootstrap")
        .arg(&boot)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("missing.pem"), "{}", text(&o));
}

/// The whole command line path: certs, run with the shipped examples, a request over
/// plaintext refused by STRICT, SIGTERM, exit 0.
#[cfg(unix)]
#[test]
fn run_serves_until_sigterm() {
    serve_until_sigterm("run", &[]);
}

/// The same on one worker (`--workers`, as the benchmark runs it).
#[cfg(unix)]
#[test]
fn run_on_one_worker_serves_until_sigterm() {
    serve_until_sigterm("run-w1", &["--workers", "1"]);
}

#[cfg(unix)]
fn serve_until_sigterm(name: &str, extra: &[&str]) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::Stdio;

    let dir = std::env::temp_dir().join(format!("mesh-cli-{}-{name}", std::process::id()));
    let o = bin()
        .args(["certs", "--out"])
        .arg(dir.join("certs"))
        .args(["--workload", "production/myapp"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let boot = dir.join("bootstrap.yaml");
    std::fs::write(
        &boot,
        "workload: {name: myapp-v1, namespace: production, serviceAccount: myapp, labels: {app: myapp}}\n\
         inbound: {listen: \"127.0.0.1:0\", app: \"127.0.0.1:1\"}\n\
         identity: {cert: certs/production.myapp.pem, key: certs/production.myapp.key, trustBundle: certs/ca.pem}\n",
    )
    .unwrap();
    let mut child = bin()
        .args(["run", "--config"])
        .arg(examples())
        .arg("--bootstrap")
        .arg(&boot)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let inbound = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "exited before serving"
        );
        if line.contains("mesh-proxy serving") {
            let at = line.find("127.0.0.1:").unwrap();
            let addr: String = line[at..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect();
            break addr;
        }
    };
    // STRICT (the example's mesh-wide and namespace policies): plaintext gets no answer.
    let mut s = TcpStream::connect(&inbound).unwrap();
    let _ = s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert!(rest.contains("draining"), "{rest}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_runs_the_mesh_and_exits_0_with_the_report() {
    let o = bin()
        .args(["demo", "--duration", "3s", "--seed", "5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    for heading in [
        "1. Routing: header route and 90/10 canary",
        "2. Authorization and mTLS",
        "3. Fault injection",
        "4. Mirroring",
        "5. Resilience",
        "6. Linkerd ServiceProfile and SMI TrafficSplit",
        "7. Ingress gateway",
        "Hot reload",
        "All observations match the policy.",
    ] {
        assert!(stdout.contains(heading), "{heading} missing:\n{}", text(&o));
    }
    // stderr is not a terminal here: one progress line per scene, no bar.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("mesh-proxy demo: scene 1"), "{stderr}");
    assert!(!stderr.contains('\r'), "{stderr}");
}

#[test]
fn demo_rejects_a_duration_under_a_second() {
    let o = bin().args(["demo", "--duration", "10ms"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("at least 1s"), "{}", text(&o));
}
