//! The value lists of a `Source` (semantics.md §6.5) and an `Operation` (§6.6).

use crate::path::FieldPath;
use crate::resource::{Operation, Source};
use crate::validate::Report;

use super::identity::{self, MAX_SERVICE_ACCOUNTS};
use super::{ip, values};

/// How the values of one field are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Principal,
    Namespace,
    ServiceAccount,
    Ip,
    Host,
    Method,
    Path,
    /// Pattern language only (`requestPrincipals`).
    Pattern,
}

/// Checks every list of a source.
pub fn source(s: &Source, path: &FieldPath, r: &mut Report) {
    use Check::*;
    let lists: [(&str, &[String], Check); 12] = [
        ("principals", &s.principals, Principal),
        ("notPrincipals", &s.not_principals, Principal),
        ("requestPrincipals", &s.request_principals, Pattern),
        ("notRequestPrincipals", &s.not_request_principals, Pattern),
        ("namespaces", &s.namespaces, Namespace),
        ("notNamespaces", &s.not_namespaces, Namespace),
        ("serviceAccounts", &s.service_accounts, ServiceAccount),
        (
            "notServiceAccounts",
            &s.not_service_accounts,
            ServiceAccount,
        ),
        ("ipBlocks", &s.ip_blocks, Ip),
        ("notIpBlocks", &s.not_ip_blocks, Ip),
        ("remoteIpBlocks", &s.remote_ip_blocks, Ip),
        ("notRemoteIpBlocks", &s.not_remote_ip_blocks, Ip),
    ];
    for (name, list, check) in lists {
        values_of(r, &path.key(name), name, list, check);
    }
    service_accounts(s, path, r);
}

/// Istio: `serviceAccounts` cannot be combined with `principals` or `namespaces` (positive or
/// negated), and holds at most 16 entries.
fn service_accounts(s: &Source, path: &FieldPath, r: &mut Report) {
    let identity = !s.principals.is_empty()
        || !s.not_principals.is_empty()
        || !s.namespaces.is_empty()
        || !s.not_namespaces.is_empty();
    for (name, list) in [
        ("serviceAccounts", &s.service_accounts),
        ("notServiceAccounts", &s.not_service_accounts),
    ] {
        if list.is_empty() {
            continue;
        }
        let at = path.key(name);
        if identity {
            r.error(
                &at,
                format!("{name} cannot be combined with principals or namespaces in one source"),
            );
        }
        if list.len() > MAX_SERVICE_ACCOUNTS {
            r.error(
                &at,
                format!(
                    "{name} has {} entries; at most {MAX_SERVICE_ACCOUNTS} are allowed",
                    list.len()
                ),
            );
        }
    }
}

/// Checks every list of an operation.
pub fn operation(op: &Operation, path: &FieldPath, r: &mut Report) {
    use Check::*;
    let lists: [(&str, &[String], Check); 6] = [
        ("hosts", &op.hosts, Host),
        ("notHosts", &op.not_hosts, Host),
        ("methods", &op.methods, Method),
        ("notMethods", &op.not_methods, Method),
        ("paths", &op.paths, Path),
        ("notPaths", &op.not_paths, Path),
    ];
    for (name, list, check) in lists {
        values_of(r, &path.key(name), name, list, check);
    }
    for (name, list) in [("ports", &op.ports), ("notPorts", &op.not_ports)] {
        for (n, p) in list.iter().enumerate() {
            values::port(r, &path.key(name).index(n), p);
        }
    }
}

/// Checks each value of one list: non-empty, then by kind.
fn values_of(r: &mut Report, path: &FieldPath, field: &str, list: &[String], check: Check) {
    for (n, v) in list.iter().enumerate() {
        let at = path.index(n);
        if !values::non_empty(r, &at, field, v) {
            continue;
        }
        match check {
            Check::Principal => identity::principal(r, &at, v),
            Check::Namespace => identity::namespace(r, &at, v),
            Check::ServiceAccount => identity::service_account(r, &at, v),
            Check::Ip => ip::check(r, &at, v),
            Check::Method => values::method(r, &at, v),
            Check::Path => values::path(r, &at, v),
            Check::Host | Check::Pattern => values::literal_star(r, &at, v),
        }
    }
}
