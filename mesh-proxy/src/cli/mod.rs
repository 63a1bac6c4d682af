//! Command-line interface.

mod certs;
mod demo;
mod explain;
mod run;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mesh_core::{LoadOptions, Loaded, MeshConfig};

/// Service-mesh policy (Istio, Linkerd, SMI) as a library and a small proxy.
#[derive(Debug, Parser)]
#[command(name = "mesh-proxy", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check resources the way `istioctl analyze` would: every problem of every file, with
    /// file, line, column, resource and field path. Exit 0 when there is no error.
    Validate(validate::Args),
    /// Print, as one JSON object, every decision the mesh makes for one request.
    Explain(Box<explain::Args>),
    /// Run the proxy: load the resources and the bootstrap file, serve inbound and admin.
    Run(run::Args),
    /// Make a development root CA and workload certificates with SPIFFE IDs (PEM).
    Certs(certs::Args),
    /// Start a small mesh of sidecars on loopback from the shipped examples, drive traffic
    /// through it scene by scene and report what each policy did. Exit 1 if an observation
    /// contradicts the policy.
    Demo(demo::Args),
}

/// Options shared by commands that read resources.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Treat unknown fields as warnings instead of errors.
    #[arg(long)]
    lenient: bool,
    /// Cluster DNS domain used to expand short host names.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// Istio root namespace (mesh-wide policies).
    #[arg(long, default_value = "istio-system")]
    root_namespace: String,
}

impl ConfigArgs {
    fn load(&self, paths: &[PathBuf]) -> Loaded {
        Loaded::from_paths(
            paths,
            LoadOptions {
                lenient: self.lenient,
            },
        )
    }

    fn mesh_config(&self) -> MeshConfig {
        MeshConfig {
            cluster_domain: self.cluster_domain.clone(),
            root_namespace: self.root_namespace.clone(),
            ..MeshConfig::default()
        }
    }
}

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum Output {
    /// For people: each finding with its source line.
    #[default]
    Text,
    /// For programs: one JSON object.
    Json,
}

/// Runs a command; the exit code says whether the input was valid.
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Validate(a) => Ok(validate::run(&a)),
        Command::Explain(a) => explain::run(&a),
        Command::Run(a) => run::run(&a),
        Command::Certs(a) => certs::run(&a),
        Command::Demo(a) => demo::run(&a),
    }
}
