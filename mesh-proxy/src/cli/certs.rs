//! `mesh-proxy certs --out DIR --trust-domain TD --workload NS/SA...`

use std::path::PathBuf;
use std::process::ExitCode;

use mesh_proxy::certs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write `ca.pem` and `<ns>.<sa>.pem` / `<ns>.<sa>.key` into.
    #[arg(long)]
    out: PathBuf,
    /// Trust domain of the SPIFFE IDs.
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
    /// A workload as NAMESPACE/SERVICE_ACCOUNT (repeat for more).
    #[arg(long = "workload", required = true)]
    workloads: Vec<String>,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let written = certs::write_dir(&args.out, &args.trust_domain, &args.workloads)
        .map_err(|e| e.to_string())?;
    println!("trust bundle: {}", written.ca.display());
    for (id, cert, key) in &written.workloads {
        println!("{id}: {} {}", cert.display(), key.display());
    }
    Ok(ExitCode::SUCCESS)
}
