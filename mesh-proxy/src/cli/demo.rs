//! `mesh-proxy demo [--duration 10s] [--keep-running] [--seed N]`

use std::process::ExitCode;
use std::time::Duration;

use mesh_proxy::demo::{Demo, DemoOptions, ProgressMode};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Traffic time in total (e.g. `10s`, `1500ms`, `1m`); scenes are sized to fit.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Keep the mesh up after the report, print its addresses and example `curl`
    /// commands, and wait for Ctrl-C.
    #[arg(long)]
    keep_running: bool,
    /// Seed of the sidecars' weighted picks (the report prints the one it used).
    #[arg(long)]
    seed: Option<u64>,
}

/// A duration as Istio writes them: a number and `ms`, `s`, `m` or `h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = mesh_core::resource::Duration::parse(text).map_err(|e| e.to_string())?;
    let d = Duration::from_nanos(d.as_nanos());
    if d < Duration::from_secs(1) {
        return Err(format!("{text}: the demo needs at least 1s"));
    }
    Ok(d)
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        let options = DemoOptions {
            duration: args.duration,
            seed: args.seed,
            progress: ProgressMode::Auto,
        };
        // Ctrl-C stops the mesh and removes the temporary directory.
        let mut demo = tokio::select! {
            d = Demo::start(options) => d.map_err(|e| e.to_string())?,
            _ = tokio::signal::ctrl_c() => return Err("interrupted".into()),
        };
        let report = tokio::select! {
            r = demo.drive() => r,
            _ = tokio::signal::ctrl_c() => {
                demo.stop().await;
                return Err("interrupted".into());
            }
        };
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                demo.stop().await;
                return Err(e.to_string());
            }
        };
        print!("{}", report.render());
        if args.keep_running {
            if let Err(e) = demo.reset().await {
                demo.stop().await;
                return Err(e.to_string());
            }
            println!("\nThe mesh keeps running (routing scene). Ctrl-C stops it.");
            println!(
                "Config directory (edit to hot-reload): {}",
                demo.config_dir().display()
            );
            for a in demo.addresses() {
                println!("  {:<21} {:<9} {}", a.pod, a.role, a.addr);
            }
            println!("Try:");
            for (cmd, what) in demo.curl_examples() {
                println!("  {cmd}\n      # {what}");
            }
            let _ = tokio::signal::ctrl_c().await;
        }
        demo.stop().await;
        Ok(if report.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
