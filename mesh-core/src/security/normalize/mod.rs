//! Path normalization (semantics.md §6.8, security.md §1.1): one function that turns the
//! request target into the path that routing, authorization and the upstream all see, or
//! rejects the request with 400 when it cannot be normalized safely.
//!
//! Security.md rule 1: authz must judge the same bytes the upstream acts on, so the proxy
//! forwards [`NormalizedPath::path_and_query`], never the raw target.

use std::borrow::Cow;

use crate::validate::common::is_tchar;

/// Mesh `pathNormalization.normalization`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PathNormalization {
    /// Path used verbatim (still checked: NUL, `%00`, bad bytes and escapes are rejected).
    None,
    /// RFC 3986: decode escaped unreserved characters once, `\` to `/`, remove dot segments.
    #[default]
    Base,
    /// [`Base`](Self::Base), then merge runs of `/`.
    MergeSlashes,
    /// Decode `%2F` and `%5C` first, then [`MergeSlashes`](Self::MergeSlashes).
    DecodeAndMergeSlashes,
}

/// Why a request was rejected (HTTP 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The path does not start with `/` (origin form).
    #[error("request path must start with '/'")]
    NotOriginForm,
    /// A raw NUL or `%00` in the path.
    #[error("request path contains NUL (raw or %00)")]
    Nul,
    /// `%` not followed by two hex digits.
    #[error("request path has an invalid percent-escape at byte {at}")]
    InvalidEscape {
        /// Offset of the `%`.
        at: usize,
    },
    /// A control, space or non-ASCII byte in the request target.
    #[error("request target has byte 0x{byte:02x} at {at}, which must be percent-encoded")]
    InvalidByte {
        /// The byte.
        byte: u8,
        /// Its offset.
        at: usize,
    },
    /// A method that is not an upper-case token (Istio rejects `get` with 400).
    #[error("method {0:?} is not an upper-case HTTP token")]
    Method(String),
    /// The normalized target does not form a valid URI again (never expected; refused rather
    /// than forwarded raw).
    #[error("the normalized request target is not a valid URI")]
    Unforwardable,
    /// A header name with whitespace or another non-token byte.
    #[error("header name {0:?} is not an HTTP token")]
    HeaderName(String),
}

/// An unknown `pathNormalization` name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown path normalization {0:?}: expected NONE, BASE, DEFAULT, MERGE_SLASHES or \
     DECODE_AND_MERGE_SLASHES"
)]
pub struct InvalidNormalization(pub String);

/// The normalized request target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedPath<'a> {
    /// The normalized path: what `paths` match and what is forwarded (no query, no fragment).
    pub path: Cow<'a, str>,
    /// The query, untouched (without `?`), forwarded but never matched by `paths`.
    pub query: Option<&'a str>,
}

// === impl PathNormalization ===

impl PathNormalization {
    /// Reads the mesh config name (`DEFAULT` is `BASE`).
    pub fn from_name(name: &str) -> Result<Self, InvalidNormalization> {
        Ok(match name {
            "NONE" => PathNormalization::None,
            "BASE" | "DEFAULT" => PathNormalization::Base,
            "MERGE_SLASHES" => PathNormalization::MergeSlashes,
            "DECODE_AND_MERGE_SLASHES" => PathNormalization::DecodeAndMergeSlashes,
            other => return Err(InvalidNormalization(other.to_owned())),
        })
    }

    /// The mesh config name.
    pub const fn name(self) -> &'static str {
        match self {
            PathNormalization::None => "NONE",
            PathNormalization::Base => "BASE",
            PathNormalization::MergeSlashes => "MERGE_SLASHES",
            PathNormalization::DecodeAndMergeSlashes => "DECODE_AND_MERGE_SLASHES",
        }
    }

    const fn merges(self) -> bool {
        matches!(
            self,
            PathNormalization::MergeSlashes | PathNormalization::DecodeAndMergeSlashes
        )
    }
}

// === impl NormalizedPath ===

impl NormalizedPath<'_> {
    /// Path and query, as forwarded upstream.
    pub fn path_and_query(&self) -> Cow<'_, str> {
        match self.query {
            None => Cow::Borrowed(&*self.path),
            Some(q) => Cow::Owned(format!("{}?{q}", self.path)),
        }
    }
}

// === normalize ===

/// Normalizes a request target in origin form (`/path?query#fragment`). The fragment is
/// stripped (CVE-2021-39156), the query kept verbatim, the path normalized per `mode`.
pub fn normalize(target: &str, mode: PathNormalization) -> Result<NormalizedPath<'_>, Rejected> {
    let target = target.split_once('#').map_or(target, |(t, _)| t);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if !path.starts_with('/') {
        return Err(Rejected::NotOriginForm);
    }
    let needs_work = check_path(path, mode)?;
    if let Some(q) = query {
        check_bytes(q, path.len() + 1)?;
    }
    let path = if needs_work {
        Cow::Owned(rewrite(path, mode))
    } else {
        Cow::Borrowed(path)
    };
    Ok(NormalizedPath { path, query })
}

/// §6.8: methods must be upper-case tokens, or 400 (H-17, H-18).
pub fn check_method(method: &str) -> Result<(), Rejected> {
    let ok = !method.is_empty()
        && method
            .bytes()
            .all(|b| is_tchar(b) && !b.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(Rejected::Method(method.to_owned()))
    }
}

/// §6.8: a header name with whitespace (or any non-token byte) is rejected with 400.
pub fn check_header_name(name: &[u8]) -> Result<(), Rejected> {
    if !name.is_empty() && name.iter().all(|b| is_tchar(*b)) {
        Ok(())
    } else {
        Err(Rejected::HeaderName(
            String::from_utf8_lossy(name).into_owned(),
        ))
    }
}

/// Checks every byte and escape of the path; true when the mode would change it.
fn check_path(path: &str, mode: PathNormalization) -> Result<bool, Rejected> {
    let b = path.as_bytes();
    let mut work = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0 => return Err(Rejected::Nul),
            b'%' => {
                let (hi, lo) = match (b.get(i + 1), b.get(i + 2)) {
                    (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                        (*h, *l)
                    }
                    _ => return Err(Rejected::InvalidEscape { at: i }),
                };
                let byte = (hex(hi) << 4) | hex(lo);
                if byte == 0 {
                    return Err(Rejected::Nul);
                }
                work |= decodes(byte, mode);
                i += 3;
                continue;
            }
            b'\\' => work |= mode != PathNormalization::None,
            b'/' if mode != PathNormalization::None => {
                let next = b.get(i + 1).copied();
                work |= next == Some(b'/') && mode.merges();
                work |= next == Some(b'.') && is_dot_segment(&b[i + 1..]);
            }
            c if c <= b' ' || c >= 0x7f => return Err(Rejected::InvalidByte { byte: c, at: i }),
            _ => {}
        }
        i += 1;
    }
    Ok(work)
}

/// Query bytes: no controls, spaces or raw non-ASCII (they would be forwarded as they are).
fn check_bytes(s: &str, offset: usize) -> Result<(), Rejected> {
    match s.bytes().position(|c| c <= b' ' || c >= 0x7f) {
        None => Ok(()),
        Some(at) if s.as_bytes()[at] == 0 => Err(Rejected::Nul),
        Some(at) => Err(Rejected::InvalidByte {
            byte: s.as_bytes()[at],
            at: offset + at,
        }),
    }
}

/// True when `seg` (after a `/`) starts with `.` or `..` followed by `/`, `\` or the end.
fn is_dot_segment(seg: &[u8]) -> bool {
    let end = |i: usize| seg.get(i).is_none_or(|c| matches!(c, b'/' | b'\\'));
    seg.first() == Some(&b'.') && (end(1) || (seg.get(1) == Some(&b'.') && end(2)))
}

const fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Whether an escaped byte is decoded in this mode: unreserved characters (RFC 3986 §2.3) in
/// every mode but NONE; `/` and `\` only in DECODE_AND_MERGE_SLASHES.
const fn decodes(byte: u8, mode: PathNormalization) -> bool {
    match mode {
        PathNormalization::None => false,
        PathNormalization::DecodeAndMergeSlashes if matches!(byte, b'/' | b'\\') => true,
        _ => byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'),
    }
}

/// The slow path: decode once, `\` to `/`, remove dot segments, merge slashes.
fn rewrite(path: &str, mode: PathNormalization) -> String {
    let b = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let byte = (hex(b[i + 1]) << 4) | hex(b[i + 2]);
            if decodes(byte, mode) {
                decoded.push(if byte == b'\\' { '/' } else { char::from(byte) });
            } else {
                decoded.push_str(&path[i..i + 3]);
            }
            i += 3;
            continue;
        }
        decoded.push(if c == b'\\' { '/' } else { char::from(c) });
        i += 1;
    }
    let mut out = remove_dot_segments(&decoded);
    if mode.merges() {
        merge_slashes(&mut out);
    }
    out
}

/// RFC 3986 §5.2.4 on a path that starts with `/`.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, seg) in segments.into_iter().enumerate() {
        match seg {
            "." | ".." => {
                if seg == ".." {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut s = String::with_capacity(path.len());
    for seg in &out {
        s.push('/');
        s.push_str(seg);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

fn merge_slashes(path: &mut String) {
    let mut prev_slash = false;
    path.retain(|c| {
        let dup = c == '/' && prev_slash;
        prev_slash = c == '/';
        !dup
    });
}

#[cfg(test)]
mod tests;
