//! `mesh-proxy run --config DIR --bootstrap FILE`

use std::path::PathBuf;
use std::process::ExitCode;

use mesh_core::{LoadOptions, Mesh};
use mesh_proxy::bootstrap::Bootstrap;
use mesh_proxy::reload::ConfigSource;
use mesh_proxy::{GatewayListener, Listeners, ProxyConfig};
use tokio::net::TcpListener;

use super::ConfigArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory (or file) of resources: Istio, Linkerd, SMI.
    #[arg(long)]
    config: PathBuf,
    /// The bootstrap file: workload, listeners, identity, admin.
    #[arg(long)]
    bootstrap: PathBuf,
    #[command(flatten)]
    options: ConfigArgs,
    /// Runtime worker threads (default: one per CPU). One worker still uses the multi-thread
    /// scheduler: its LIFO slot runs a just-woken task next, which suits a proxy's ping-pong
    /// between the client and upstream connections (the current-thread scheduler measured
    /// about 10% more CPU per request).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let bootstrap = match Bootstrap::from_path(&args.bootstrap) {
        Ok(b) => b,
        Err(invalid) => {
            eprint!("{invalid}");
            return Ok(ExitCode::from(1));
        }
    };
    // Fail closed: any error in any resource and the proxy does not start.
    let loaded = args.options.load(std::slice::from_ref(&args.config));
    let sources = loaded.sources.clone();
    let mesh = match Mesh::from_loaded(loaded, args.options.mesh_config()) {
        Ok((mesh, warnings)) => {
            for w in &warnings {
                eprint!("{}", w.render(&sources));
            }
            mesh
        }
        Err(invalid) => {
            for d in &invalid.diagnostics {
                eprint!("{}", d.render(&invalid.sources));
            }
            eprintln!("mesh-proxy: the resources are invalid; not starting");
            return Ok(ExitCode::from(1));
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.workers {
        builder.worker_threads(usize::from(n));
    }
    let rt = builder
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        let inbound = TcpListener::bind(bootstrap.inbound.listen)
            .await
            .map_err(|e| format!("inbound.listen {}: {e}", bootstrap.inbound.listen))?;
        let admin = match &bootstrap.admin {
            Some(a) => Some(
                TcpListener::bind(a.listen)
                    .await
                    .map_err(|e| format!("admin.listen {}: {e}", a.listen))?,
            ),
            None => None,
        };
        let outbound = match &bootstrap.outbound {
            Some(o) => Some(
                TcpListener::bind(o.listen)
                    .await
                    .map_err(|e| format!("outbound.listen {}: {e}", o.listen))?,
            ),
            None => None,
        };
        let mut gateways = Vec::new();
        for g in &bootstrap.gateways {
            for (port, addr) in &g.ports {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("gateways {} port {port} at {addr}: {e}", g.gateway))?;
                gateways.push(GatewayListener {
                    gateway: g.gateway.clone(),
                    port: *port,
                    listener,
                });
            }
        }
        let listeners = Listeners {
            inbound,
            admin,
            outbound,
            gateways,
        };
        let source = ConfigSource {
            paths: vec![args.config.clone()],
            options: LoadOptions {
                lenient: args.options.lenient,
            },
            mesh_config: args.options.mesh_config(),
        };
        let cfg = ProxyConfig {
            source: Some(source),
            ..ProxyConfig::new(mesh, bootstrap)
        };
        mesh_proxy::run(listeners, cfg, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown signal received");
}
