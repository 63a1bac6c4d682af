//! End-to-end tests across crates, compiled as one binary.

mod demo;
mod examples;
mod in_process_client;
#[allow(dead_code)]
#[path = "../../examples/in_process_client.rs"]
mod in_process_example;
mod inbound_stack;
mod load_never_panics;
mod proxy;
mod support;
#[allow(dead_code)]
#[path = "../../examples/tour.rs"]
mod tour_example;
