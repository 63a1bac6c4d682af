//! mesh-core: Istio, Linkerd and SMI resources as validated data, and pure policy engines.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

pub mod diag;
pub mod load;
pub mod path;
pub mod pattern;
pub mod resource;
pub mod validate;
pub mod yaml;

pub use crate::diag::{Diagnostic, Severity};
pub use crate::load::{LoadOptions, Loaded};
