//! Security engines (spec §6–§8, security.md): pure functions of the policies, the request and
//! the connection facts. No tokio, no sockets; the layers in [`crate::layer`] drive them.

pub mod authz;
pub mod conn;
pub mod gateway_tls;
pub mod identity;
pub mod normalize;
pub mod peer_authn;
