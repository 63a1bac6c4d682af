//! Value matchers (semantics.md §6.4–§6.6): the pattern language, URI path templates, peer
//! identity patterns built on the SPIFFE grammar (never by string concatenation, CVE-2020-16844)
//! and literal-quoted regexes (CVE-2026-39350).

use regex::Regex;

/// One value of the pattern language: `*`, `abc*`, `*abc`, `abc` (any other `*` is literal).
#[derive(Clone, Debug)]
pub enum StrPat {
    /// `*`: present and non-empty.
    Any,
    /// `abc`.
    Exact(Box<[u8]>),
    /// `abc*` (matches `abc` itself).
    Prefix(Box<[u8]>),
    /// `*abc` (matches `abc` itself).
    Suffix(Box<[u8]>),
}

/// A `paths` value: the pattern language, or a URI template with `{*}` / `{**}`.
#[derive(Clone, Debug)]
pub enum PathPat {
    /// Pattern language.
    Str(StrPat),
    /// Template segments.
    Template(Vec<TplSeg>),
}

/// One template segment.
#[derive(Clone, Debug)]
pub enum TplSeg {
    /// A literal segment.
    Lit(Box<str>),
    /// `{*}`: exactly one non-empty segment.
    One,
    /// `{**}` plus a literal suffix: zero or more segments, the last ending in the suffix.
    Rest(Box<str>),
}

/// A `principals` / `source.principal` value, matched against `spiffe://<principal>`.
#[derive(Clone, Debug)]
pub struct PrincipalPat(StrPat);

/// A `namespaces` / `source.namespace` value: Istio's `.*/ns/<value>/.*` with each `*` a
/// wildcard and everything else literal.
#[derive(Clone, Debug)]
pub enum NamespacePat {
    /// No wildcard: the identity contains `/ns/<value>/`.
    Literal(Box<str>),
    /// With wildcards.
    Regex(Regex),
}

/// A `requestPrincipals` value, `<iss>/<sub>` split on the last `/`.
#[derive(Clone, Debug)]
pub enum RequestPrincipalPat {
    /// `*`: any validated JWT.
    Any,
    /// Issuer pattern and subject pattern.
    Split(StrPat, StrPat),
    /// No `/`: the pattern on `<iss>/<sub>` as a whole.
    Whole(StrPat),
}

// === impl StrPat ===

impl StrPat {
    /// Reads one value.
    pub fn new(value: &str) -> Self {
        let b = |s: &str| s.as_bytes().to_vec().into_boxed_slice();
        if value == "*" {
            StrPat::Any
        } else if let Some(s) = value.strip_prefix('*') {
            StrPat::Suffix(b(s))
        } else if let Some(p) = value.strip_suffix('*') {
            StrPat::Prefix(b(p))
        } else {
            StrPat::Exact(b(value))
        }
    }

    /// The same pattern with its literal in lower case (hosts compare case-insensitively).
    pub fn lowercase(self) -> Self {
        let l = |s: Box<[u8]>| s.to_ascii_lowercase().into_boxed_slice();
        match self {
            StrPat::Any => StrPat::Any,
            StrPat::Exact(s) => StrPat::Exact(l(s)),
            StrPat::Prefix(s) => StrPat::Prefix(l(s)),
            StrPat::Suffix(s) => StrPat::Suffix(l(s)),
        }
    }

    /// Byte-exact match (non-UTF-8 values are compared as bytes, never read as empty).
    pub fn matches(&self, v: &[u8]) -> bool {
        match self {
            StrPat::Any => !v.is_empty(),
            StrPat::Exact(s) => v == &**s,
            StrPat::Prefix(s) => v.starts_with(s),
            StrPat::Suffix(s) => v.ends_with(s),
        }
    }

    /// ASCII case-insensitive match; the pattern must have been [`lowercase`](Self::lowercase)d.
    pub fn matches_ci(&self, v: &[u8]) -> bool {
        match self {
            StrPat::Any => !v.is_empty(),
            StrPat::Exact(s) => v.eq_ignore_ascii_case(s),
            StrPat::Prefix(s) => v.len() >= s.len() && v[..s.len()].eq_ignore_ascii_case(s),
            StrPat::Suffix(s) => {
                v.len() >= s.len() && v[v.len() - s.len()..].eq_ignore_ascii_case(s)
            }
        }
    }
}

// === impl PathPat ===

impl PathPat {
    /// A `paths` value; templates are checked (`{**}` last, literals are pchars).
    pub fn new(value: &str) -> Result<Self, String> {
        if !(value.contains("{*}") || value.contains("{**}")) {
            return Ok(PathPat::Str(StrPat::new(value)));
        }
        let rest = value
            .strip_prefix('/')
            .ok_or_else(|| format!("path template {value:?} must start with '/'"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segs = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            let seg = match *p {
                "{*}" => TplSeg::One,
                s if s.starts_with("{**}") => {
                    if i + 1 != parts.len() {
                        return Err(format!("{value:?}: {{**}} must be in the last segment"));
                    }
                    TplSeg::Rest(s["{**}".len()..].into())
                }
                s => TplSeg::Lit(s.into()),
            };
            if let TplSeg::Lit(l) | TplSeg::Rest(l) = &seg
                && l.contains(['{', '}', '*'])
            {
                return Err(format!("{value:?}: invalid template segment {p:?}"));
            }
            segs.push(seg);
        }
        Ok(PathPat::Template(segs))
    }

    /// Matches a normalized path (no query).
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathPat::Str(p) => p.matches(path.as_bytes()),
            PathPat::Template(segs) => match path.strip_prefix('/') {
                Some(rest) => template_matches(segs, rest),
                None => false,
            },
        }
    }
}

fn template_matches(segs: &[TplSeg], mut rest: &str) -> bool {
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match seg {
            TplSeg::Rest(suffix) => return rest.ends_with(&**suffix),
            TplSeg::Lit(_) | TplSeg::One => {
                let (head, tail) = match rest.split_once('/') {
                    Some((h, t)) if !last => (h, Some(t)),
                    Some(_) => return false,
                    None => (rest, None),
                };
                let ok = match seg {
                    TplSeg::Lit(l) => head == &**l,
                    _ => !head.is_empty(),
                };
                if !ok {
                    return false;
                }
                match tail {
                    Some(t) => rest = t,
                    None => return last,
                }
            }
        }
    }
    false
}

// === impl PrincipalPat ===

impl PrincipalPat {
    /// A principal value (without `spiffe://`).
    pub fn new(value: &str) -> Self {
        PrincipalPat(StrPat::new(value))
    }

    /// Istio: the pattern applies to `spiffe://` + principal; `*x` is `spiffe://.*x`, so the
    /// suffix may reach into the scheme (it never does for a well-formed value).
    pub fn matches(&self, principal: &str) -> bool {
        const SCHEME: &[u8] = b"spiffe://";
        let p = principal.as_bytes();
        match &self.0 {
            StrPat::Suffix(s) if s.len() > p.len() => {
                s.ends_with(p) && SCHEME.ends_with(&s[..s.len() - p.len()])
            }
            pat => pat.matches(p),
        }
    }
}

// === impl NamespacePat ===

impl NamespacePat {
    /// A namespace value.
    pub fn new(value: &str) -> Result<Self, String> {
        if !value.contains('*') {
            return Ok(NamespacePat::Literal(format!("/ns/{value}/").into()));
        }
        let body: Vec<String> = value.split('*').map(regex::escape).collect();
        let re = format!("/ns/{}/", body.join(".*"));
        crate::pattern::compile(value, &re)
            .map(NamespacePat::Regex)
            .map_err(|e| e.to_string())
    }

    /// Matches a principal.
    pub fn matches(&self, principal: &str) -> bool {
        match self {
            NamespacePat::Literal(l) => principal.contains(&**l),
            NamespacePat::Regex(r) => r.is_match(principal),
        }
    }
}

/// `serviceAccounts`: `ns/sa`, or `sa` in the policy's namespace, as Istio's
/// `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?` with the literals quoted.
pub fn service_account(value: &str, policy_ns: &str) -> Result<Regex, String> {
    if value.contains('*') {
        return Err(format!("service account {value:?} may not contain '*'"));
    }
    let (ns, sa) = value.split_once('/').unwrap_or((policy_ns, value));
    if ns.is_empty() || sa.is_empty() || sa.contains('/') {
        return Err(format!(
            "service account {value:?} must be <name> or <ns>/<name>"
        ));
    }
    let re = format!(
        "^.+/ns/{}/(.+/|)sa/{}(/.+)?$",
        regex::escape(ns),
        regex::escape(sa)
    );
    crate::pattern::compile(value, &re).map_err(|e| e.to_string())
}

// === impl RequestPrincipalPat ===

impl RequestPrincipalPat {
    /// A `requestPrincipals` value.
    pub fn new(value: &str) -> Self {
        if value == "*" {
            return RequestPrincipalPat::Any;
        }
        match value.rsplit_once('/') {
            Some((iss, sub)) => RequestPrincipalPat::Split(StrPat::new(iss), StrPat::new(sub)),
            None => RequestPrincipalPat::Whole(StrPat::new(value)),
        }
    }

    /// Matches a validated token's issuer and subject.
    pub fn matches(&self, iss: &str, sub: &str) -> bool {
        match self {
            RequestPrincipalPat::Any => true,
            RequestPrincipalPat::Split(i, s) => {
                i.matches(iss.as_bytes()) && s.matches(sub.as_bytes())
            }
            RequestPrincipalPat::Whole(p) => p.matches(format!("{iss}/{sub}").as_bytes()),
        }
    }
}
