//! `mesh-proxy validate PATH...`

use std::path::PathBuf;
use std::process::ExitCode;

use mesh_core::{Diagnostic, Mesh, Severity};

use super::{ConfigArgs, Output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories (read recursively: *.yaml, *.yml, *.json).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: Output,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: &Args) -> ExitCode {
    let loaded = args.config.load(&args.paths);
    let files = loaded.files;
    let resources = loaded.resources.len();
    let sources = loaded.sources.clone();
    let diagnostics: Vec<Diagnostic> = match Mesh::from_loaded(loaded, args.config.mesh_config()) {
        Ok((_, warnings)) => warnings,
        Err(invalid) => invalid.diagnostics,
    };
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    match args.output {
        Output::Json => {
            let doc = serde_json::json!({
                "files": files,
                "resources": resources,
                "errors": errors,
                "warnings": warnings,
                "diagnostics": diagnostics,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Output::Text => {
            for d in &diagnostics {
                print!("{}", d.render(&sources));
                println!();
            }
            let verdict = if errors == 0 { "valid" } else { "invalid" };
            println!(
                "{verdict}: {resources} resource(s) in {files} file(s); {errors} error(s), {warnings} warning(s)"
            );
        }
    }
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
