//! `mesh-proxy explain --config PATH --request "GET http://host/path" ...`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use mesh_core::Mesh;
use mesh_core::explain::{ExplainRequest, ProxyScope, SourceFacts, explain};
use mesh_core::model::Workload;

use super::ConfigArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Resource files or directories.
    #[arg(long, short = 'c', required = true, num_args = 1..)]
    config: Vec<PathBuf>,
    /// The request: "METHOD URL", e.g. "GET http://myapp.example.com/api/users?x=1".
    #[arg(long, short = 'r')]
    request: String,
    /// A request header, "name: value" (repeatable).
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// The client workload whose sidecar routes the request, NS/NAME.
    #[arg(long, default_value = "default/client")]
    workload: String,
    /// The client workload's labels, k=v,k2=v2.
    #[arg(long, default_value = "")]
    labels: String,
    /// Evaluate at this gateway (NS/NAME) instead of a sidecar.
    #[arg(long, requires = "port")]
    gateway: Option<String>,
    /// The gateway server port.
    #[arg(long)]
    port: Option<u16>,
    /// The receiving workload (NS/NAME) for authorization and mTLS.
    #[arg(long)]
    destination_workload: Option<String>,
    /// The receiving workload's labels.
    #[arg(long)]
    destination_labels: Option<String>,
    /// The peer principal (with --mtls).
    #[arg(long)]
    source_principal: Option<String>,
    /// The peer namespace (with --mtls).
    #[arg(long)]
    source_namespace: Option<String>,
    /// The peer IP.
    #[arg(long)]
    source_ip: Option<String>,
    /// The connection is mutual TLS (without it, the peer has no identity).
    #[arg(long)]
    mtls: bool,
    /// Seed for weighted picks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    common: ConfigArgs,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let loaded = args.common.load(&args.config);
    let (mesh, warnings) = match Mesh::from_loaded(loaded, args.common.mesh_config()) {
        Ok(ok) => ok,
        Err(invalid) => {
            for d in &invalid.diagnostics {
                eprint!("{}", d.render(&invalid.sources));
            }
            eprintln!("mesh-proxy: {invalid}; nothing explained");
            return Ok(ExitCode::from(1));
        }
    };
    for w in &warnings {
        eprintln!(
            "warning: {}:{}:{}: {}: {}",
            w.file, w.line, w.column, w.path, w.message
        );
    }
    let headers = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| format!("--header {h:?}: expected \"name: value\""))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scope = match (&args.gateway, args.port) {
        (Some(g), Some(port)) => ProxyScope::Gateway {
            gateway: g.clone(),
            port,
        },
        _ => ProxyScope::Sidecar(workload("--workload", &args.workload, &args.labels)?),
    };
    let mut req = ExplainRequest::from_line(&args.request, &headers, scope)
        .map_err(|e| format!("--request {:?}: {e}; expected \"METHOD URL\"", args.request))?
        .with_seed(args.seed);
    if let Some(dest) = &args.destination_workload {
        let labels = args.destination_labels.as_deref().unwrap_or("");
        req = req.with_destination(workload("--destination-workload", dest, labels)?);
    } else if args.destination_labels.is_some() {
        return Err("--destination-labels needs --destination-workload NS/NAME".to_owned());
    }
    req.source = SourceFacts {
        principal: args.source_principal.clone(),
        namespace: args.source_namespace.clone(),
        ip: args.source_ip.clone(),
        mtls: args.mtls,
    };
    let out = explain(&mesh, &req).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
    );
    Ok(ExitCode::SUCCESS)
}

fn workload(flag: &str, name: &str, labels: &str) -> Result<Workload, String> {
    let (namespace, name) = name
        .split_once('/')
        .ok_or_else(|| format!("{flag} {name:?}: expected NS/NAME"))?;
    Ok(Workload {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        labels: parse_labels(labels)?,
    })
}

/// `k=v,k2=v2`.
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("label {p:?}: expected k=v"))
        })
        .collect()
}
