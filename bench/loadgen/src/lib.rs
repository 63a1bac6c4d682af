//! `mesh-loadgen`: the open-loop load generator of the proxy benchmark (`bench/run.py`).
//!
//! A fixed request rate over N keep-alive HTTP/1.1 connections, in the manner of wrk2 and
//! `oha --latency-correction`: request `i` is *scheduled* at `t0 + i / rate`, and its latency is
//! measured from that scheduled time, not from the moment a connection became free, so a stall
//! of the target is charged to every request it delayed (coordinated-omission correction).
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

pub mod run;
pub mod schedule;
pub mod stats;

pub use run::{Config, LoadError, run};
pub use schedule::{InvalidSchedule, Schedule};
pub use stats::{Recorder, Report};
