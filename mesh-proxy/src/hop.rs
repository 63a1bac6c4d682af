//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so neither direction
//! forwards them, nor the headers a `Connection` header names.

use http::header::{self, HeaderMap, HeaderName};

/// Headers that describe one hop and must not be forwarded.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Drops hop-by-hop headers and those `Connection` names. The usual `Connection` values
/// (`keep-alive`, `close`, `upgrade`) name nothing beyond the fixed list, so they cost no
/// allocation.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| {
            !n.eq_ignore_ascii_case("close")
                && !HOP_BY_HOP
                    .iter()
                    .any(|h| n.eq_ignore_ascii_case(h.as_str()))
        })
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect();
    for h in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left_after(connection: &str) -> Vec<String> {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, connection.parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("x-other", "1".parse().unwrap());
        h.insert(header::TE, "trailers".parse().unwrap());
        h.insert(header::UPGRADE, "websocket".parse().unwrap());
        h.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        let mut left: Vec<String> = h.keys().map(|k| k.as_str().to_owned()).collect();
        left.sort();
        left
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_by_connection_are_dropped() {
        assert_eq!(left_after("keep-alive, x-secret"), ["x-kept", "x-other"]);
        // Names match whatever their case; `close` names no header.
        assert_eq!(left_after("Close, X-Secret,X-OTHER"), ["x-kept"]);
        assert_eq!(left_after("close"), ["x-kept", "x-other", "x-secret"]);
    }
}
