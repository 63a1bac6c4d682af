//! IP addresses and CIDR ranges (`ipBlocks`, `remoteIpBlocks`, `source.ip`, ...), parsed with
//! `std::net` only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::path::FieldPath;
use crate::validate::Report;

/// An address with a prefix length (`/32` or `/128` for a bare address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// The address as written.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

// === impl Block ===

impl Block {
    /// Istio `ValidateIPs` (Go `netip.ParseAddr` / `ParsePrefix`): an address, or
    /// `address/length` with a decimal length of at most 32 (IPv4) or 128 (IPv6). Zones,
    /// short forms (`1.2.3`) and leading zeros are rejected.
    pub fn parse(text: &str) -> Result<Block, String> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!("{text:?} is not an IP address or CIDR range (such as 10.1.2.3 or 10.0.0.0/8)")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => parse_len(l).filter(|n| *n <= max).ok_or_else(|| {
                format!(
                    "CIDR range {text:?} has an invalid prefix length {l:?}: expected 0..={max}"
                )
            })?,
        };
        Ok(Block { addr, len })
    }

    /// The network address: the address with its host bits cleared.
    pub fn network(self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(u32::from(self.len)))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(self.len)))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        }
    }
}

/// A prefix length: decimal digits, no sign, no leading zero.
fn parse_len(l: &str) -> Option<u8> {
    let digits = !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit());
    if !digits || (l.len() > 1 && l.starts_with('0')) {
        return None;
    }
    l.parse().ok()
}

/// C-22: an `ipBlocks`-style value must parse; a range with host bits set (`10.0.0.1/8`) is
/// accepted as Istio does, with a warning naming the range it really covers.
pub fn check(r: &mut Report, path: &FieldPath, value: &str) {
    match Block::parse(value) {
        Err(msg) => r.error(path, msg),
        Ok(b) if b.network() != b.addr => r.warn(
            path,
            format!(
                "CIDR range {value:?} has host bits set; it matches all of {}/{}",
                b.network(),
                b.len
            ),
        ),
        Ok(_) => {}
    }
}
