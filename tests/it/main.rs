//! End-to-end tests across crates, compiled as one binary.

mod examples;
mod load_never_panics;
mod proxy;
mod support;
