//! `mesh-proxy` as a library: the pieces `mesh-proxy run` assembles (bootstrap file, TLS,
//! inbound, outbound and gateway stacks, admin port, metrics) and [`run`] itself, so tests can
//! start a proxy in process on listeners they bound.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

pub mod admin;
pub mod body;
pub mod bootstrap;
pub mod certs;
mod conn;
pub mod demo;
pub mod drain;
pub mod gateway;
pub mod hop;
pub mod idle;
pub mod inbound;
mod listen;
pub mod metrics;
pub mod outbound;
mod proxy;
pub mod reload;
pub mod request_id;
pub mod stack;
pub mod tls;

pub use crate::gateway::GatewayListener;
pub use crate::proxy::{Listeners, ProxyConfig, RunError, run, run_with};
