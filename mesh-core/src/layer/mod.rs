//! Tower layers over the engines, one shape for all (STYLE.md rule 6): the service, a `Layer`
//! config with `const fn new`, a named response future built with `pin-project-lite`, and small
//! error types carrying their origin and whether they may be retried.

pub mod authz;
pub mod balance;
pub mod fault;
pub mod mesh;
pub mod mirror;
pub mod mtls;
pub mod normalize;
pub mod pool;
pub mod retry;
pub mod timeout;
