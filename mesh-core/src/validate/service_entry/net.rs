//! Address checks shared by ServiceEntry, WorkloadEntry, DestinationRule tunnels and Gateway
//! binds: IPs, CIDRs, FQDNs, unix socket paths and port numbers, with `std::net` only.

use std::net::IpAddr;

use crate::validate::common::is_dns1123_label;

/// The prefix of a unix domain socket address (Istio `UnixAddressPrefix`).
pub(crate) const UNIX_PREFIX: &str = "unix://";

/// An IPv4 or IPv6 address (no zone, no brackets), like Go's `netip.ParseAddr`.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// Istio `ValidatePort`: a port number in `1..=65535`.
pub(crate) fn check_port(n: u32) -> Result<(), String> {
    if (1..=65535).contains(&n) {
        Ok(())
    } else {
        Err(format!("port number {n} must be in the range 1..65535"))
    }
}

/// Istio `ValidateIPSubnet`: an address (`10.0.0.1`, `2001:db8::1`) or a CIDR block
/// (`10.0.0.0/8`, `2001:db8::/32`) whose prefix length fits the address family.
pub(crate) fn check_ip_or_cidr(s: &str) -> Result<(), String> {
    let Some((addr, bits)) = s.split_once('/') else {
        return parse_ip(s)
            .map(|_| ())
            .ok_or_else(|| format!("{s:?} is not a valid IP address"));
    };
    let bad = || format!("{s:?} is not a valid CIDR block (address/prefix-length)");
    let ip = parse_ip(addr).ok_or_else(bad)?;
    let canonical = !bits.is_empty()
        && bits.bytes().all(|b| b.is_ascii_digit())
        && (bits == "0" || !bits.starts_with('0'));
    let len: u32 = if canonical {
        bits.parse().map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!(
            "{s:?} is not a valid CIDR block: prefix length {len} is larger than {max}"
        ));
    }
    Ok(())
}

/// Istio `ValidateFQDN`: 1-255 characters of lower-case DNS-1123 labels, an optional trailing
/// dot, and a top-level label that is not all digits.
pub(crate) fn check_fqdn(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty domain name".into());
    }
    if s.len() > 255 {
        return Err(format!("domain name {s:?} is longer than 255 characters"));
    }
    let body = s.strip_suffix('.').unwrap_or(s);
    let labels: Vec<&str> = body.split('.').collect();
    if let Some(tld) = labels
        .last()
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "domain name {s:?} is invalid: the top-level label {tld:?} is all digits"
        ));
    }
    match labels.iter().find(|l| !is_dns1123_label(l)) {
        Some(label) => Err(format!(
            "domain name {s:?} has an invalid label {label:?} (lower-case letters, digits and \
             '-', at most 63)"
        )),
        None => Ok(()),
    }
}

/// Istio `ValidateUnixAddress` (the part after `unix://`): an absolute file path, or an abstract
/// socket name starting with `@`.
pub(crate) fn check_unix_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("unix socket path must not be empty".into());
    }
    if path.starts_with('@') {
        return Ok(());
    }
    if !path.starts_with('/') || path.ends_with('/') {
        return Err(format!(
            "unix socket path {path:?} is not an absolute path to a file"
        ));
    }
    Ok(())
}
