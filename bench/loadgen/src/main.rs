//! `mesh-loadgen`: open-loop HTTP/1.1 load at a fixed rate, latencies corrected for coordinated
//! omission; prints one JSON object.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mesh_loadgen::{Config, Schedule};

/// Open-loop HTTP/1.1 load: request i is due at i/rate and timed from then.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The target, e.g. 127.0.0.1:8080.
    #[arg(long)]
    addr: SocketAddr,
    /// The request target.
    #[arg(long, default_value = "/")]
    path: String,
    /// The Host header.
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Requests per second.
    #[arg(long)]
    rate: u32,
    /// Keep-alive connections.
    #[arg(long, short = 'c', default_value_t = 50)]
    connections: u32,
    /// The measured window in seconds (fractions allowed).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Runtime worker threads (the ticker thread comes on top).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mesh-loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<serde_json::Value, String> {
    let duration = Duration::try_from_secs_f64(args.duration)
        .map_err(|_| format!("invalid duration {} s", args.duration))?;
    let schedule = Schedule::try_new(args.rate, duration).map_err(|e| e.to_string())?;
    let cfg = Config::try_new(
        args.addr,
        &args.path,
        &args.host,
        schedule,
        args.connections,
    )
    .map_err(|e| e.to_string())?;
    if args.threads == 0 {
        return Err("at least one thread is needed".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let r = rt
        .block_on(mesh_loadgen::run(&cfg))
        .map_err(|e| e.to_string())?;
    Ok(serde_json::json!({
        "generator": concat!("mesh-loadgen ", env!("CARGO_PKG_VERSION")),
        "requests": r.requests,
        "rps": r.rps,
        "errors": r.errors,
        "pending": r.pending,
        "p50_ms": r.p50_ms,
        "p90_ms": r.p90_ms,
        "p99_ms": r.p99_ms,
        "rate": args.rate,
        "connections": args.connections,
        "duration_s": duration.as_secs_f64(),
        "path": args.path,
        "host": args.host,
    }))
}
