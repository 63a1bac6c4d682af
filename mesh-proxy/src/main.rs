//! `mesh-proxy`: the mesh sidecar and gateway, and the `validate` / `explain` command line.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mesh-proxy: {e}");
            ExitCode::from(2)
        }
    }
}
