//! mesh-core: Istio, Linkerd and SMI resources as validated data, and pure policy engines.
//!
//! Data flows one way: YAML ([`load`]) -> typed resources ([`resource`]) -> validated
//! ([`validate`]) -> compiled snapshot ([`model::Mesh`]) -> engines ([`route`], [`split`],
//! [`profile`]) -> decisions ([`explain`]).
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

pub mod client;
pub mod clock;
pub mod diag;
pub mod explain;
pub mod fxhash;
pub mod layer;
pub mod load;
pub mod model;
pub mod path;
pub mod pattern;
pub mod profile;
pub mod resilience;
pub mod resource;
pub mod route;
pub mod security;
pub mod split;
#[cfg(any(test, feature = "test-util"))]
pub mod testutil;
pub mod validate;
pub mod yaml;

pub use crate::diag::{Diagnostic, Severity};
pub use crate::load::{LoadOptions, Loaded};
pub use crate::model::{InvalidConfig, Mesh, MeshConfig, Workload};
