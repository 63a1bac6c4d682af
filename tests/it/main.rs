//! End-to-end tests across crates, compiled as one binary.

mod examples;
mod inbound_stack;
mod load_never_panics;
mod support;
