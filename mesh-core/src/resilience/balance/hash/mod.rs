//! Consistent hashing (`consistentHash`): the request's hash input, and the ring-hash and
//! Maglev tables built over the hosts a pick may use (rebuilt when the healthy set or panic
//! state changes, as Envoy rebuilds on host-set updates).

mod maglev;
mod ring;

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue, Uri};
use rand::Rng;

use super::{Candidates, Hosts};
use crate::model::destination::{HashAlgorithm, HashKey};

pub(super) use self::maglev::Maglev;
pub(super) use self::ring::Ring;

/// A stable 64-bit hash (FNV-1a with a murmur3 finalizer): the same on every proxy and
/// every release, so clients agree on where a key lands.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    fmix64(h)
}

/// murmur3's 64-bit finalizer.
#[inline]
pub(super) fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// What a request offers for hashing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashInput {
    /// The hash of the configured input.
    Key(u64),
    /// The input is absent: Istio sends the request to a random host.
    Missing,
    /// `httpCookie` with a `ttl` and no cookie on the request: Envoy generates one, hashes it
    /// and sets it on the response with this `Set-Cookie` value.
    NewCookie {
        /// The hash of the generated value.
        hash: u64,
        /// `Set-Cookie` for the response.
        set_cookie: HeaderValue,
    },
}

// === impl HashInput ===

impl HashInput {
    /// The hash to pick with, if any.
    pub fn hash(&self) -> Option<u64> {
        match self {
            HashInput::Key(h) | HashInput::NewCookie { hash: h, .. } => Some(*h),
            HashInput::Missing => None,
        }
    }
}

/// Extracts and hashes the request's input for `key`: a header's value, a cookie, the source
/// IP or a query parameter (the first one of that name, undecoded).
pub fn hash_input<R: Rng + ?Sized>(
    key: &HashKey,
    uri: &Uri,
    headers: &HeaderMap,
    source_ip: Option<IpAddr>,
    rng: &mut R,
) -> HashInput {
    let found = match key {
        HashKey::Header(name) => header_hash(headers, name),
        HashKey::SourceIp => source_ip.map(|ip| hash_bytes(ip.to_string().as_bytes())),
        HashKey::QueryParameter(name) => uri
            .query()
            .and_then(|q| {
                q.split('&').find_map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k == name).then_some(v)
                })
            })
            .map(|v| hash_bytes(v.as_bytes())),
        HashKey::Cookie { name, path, ttl } => {
            if let Some(v) = cookie(headers, name) {
                Some(hash_bytes(v.as_bytes()))
            } else if let Some(ttl) = ttl {
                let value = format!("{:016x}", rng.next_u64());
                let mut set = format!("{name}={value}");
                if !ttl.is_zero() {
                    set.push_str(&format!("; Max-Age={}", ttl.to_std().as_secs()));
                }
                if let Some(p) = path {
                    set.push_str(&format!("; Path={p}"));
                }
                set.push_str("; HttpOnly");
                if let Ok(set_cookie) = HeaderValue::from_str(&set) {
                    return HashInput::NewCookie {
                        hash: hash_bytes(value.as_bytes()),
                        set_cookie,
                    };
                }
                None
            } else {
                None
            }
        }
    };
    found.map_or(HashInput::Missing, HashInput::Key)
}

/// A header's value; several values hash the same in any order (sorted, then joined).
fn header_hash(headers: &HeaderMap, name: &str) -> Option<u64> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(hash_bytes(first.as_bytes()));
    };
    let mut all: Vec<&[u8]> = vec![first.as_bytes(), second.as_bytes()];
    all.extend(values.map(HeaderValue::as_bytes));
    all.sort_unstable();
    Some(hash_bytes(&all.join(&0u8)))
}

/// The value of cookie `name` from the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.trim_matches('"'))
        })
}

#[derive(Clone, Debug)]
enum Table {
    Ring(Ring),
    Maglev(Maglev),
}

/// A ring or Maglev table, cached for one host-set generation and panic state.
#[derive(Clone, Debug)]
pub(super) struct HashBalancer {
    algorithm: HashAlgorithm,
    /// (host-list fingerprint, generation, panic, table).
    table: Option<(u64, u64, bool, Table)>,
}

// === impl HashBalancer ===

impl HashBalancer {
    pub(super) fn new(algorithm: HashAlgorithm) -> Self {
        HashBalancer {
            algorithm,
            table: None,
        }
    }

    pub(super) fn pick(
        &mut self,
        hosts: &Hosts,
        candidates: Candidates<'_>,
        panic: bool,
        hash: u64,
    ) -> usize {
        let key = (hosts.fingerprint(), hosts.generation(), panic);
        let fresh = matches!(&self.table, Some((f, g, p, _)) if (*f, *g, *p) == key);
        if !fresh {
            let table = match self.algorithm {
                HashAlgorithm::RingHash { minimum_ring_size } => {
                    Table::Ring(Ring::build(hosts, candidates, minimum_ring_size))
                }
                HashAlgorithm::Maglev { table_size } => {
                    Table::Maglev(Maglev::build(hosts, candidates, table_size))
                }
            };
            self.table = Some((key.0, key.1, key.2, table));
        }
        match &self.table {
            Some((_, _, _, Table::Ring(r))) => r.lookup(hash),
            Some((_, _, _, Table::Maglev(m))) => m.lookup(hash),
            None => candidates.get(0),
        }
    }
}
