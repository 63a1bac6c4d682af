//! The ordered route list of one virtual host, with an index so that finding the first matching
//! route does not scan every route (Istio: first match in declaration order wins, §1.3).

use std::sync::Arc;

use crate::fxhash::FxHashMap;

use super::RouteRequest;
use super::compile::{CompiledRule, MatchBlock};
use super::matcher::StrMatcher;

/// One Envoy-style route: a rule and one of its match blocks (`None` for a rule without
/// `match`, which matches everything).
#[derive(Clone, Debug)]
pub struct RouteEntry {
    /// The rule.
    pub rule: Arc<CompiledRule>,
    /// Index of the block in `rule.blocks`.
    pub block: Option<usize>,
}

// === impl RouteEntry ===

impl RouteEntry {
    /// The match block, if any.
    pub fn match_block(&self) -> Option<&MatchBlock> {
        self.block.and_then(|i| self.rule.blocks.get(i))
    }

    fn is_catch_all(&self) -> bool {
        self.match_block().is_none_or(MatchBlock::is_catch_all)
    }
}

/// Routes in order plus a path index.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    entries: Vec<RouteEntry>,
    index: PathIndex,
}

#[derive(Clone, Debug, Default)]
struct PathIndex {
    exact: FxHashMap<Box<str>, Vec<u32>>,
    prefix: FxHashMap<Box<str>, Vec<u32>>,
    prefix_lens: Vec<usize>,
    folded_exact: FxHashMap<Box<str>, Vec<u32>>,
    folded_prefix: FxHashMap<Box<str>, Vec<u32>>,
    folded_prefix_lens: Vec<usize>,
    /// Entries the index cannot narrow (regex or no uri condition): always candidates.
    always: Vec<u32>,
}

// === impl RouteTable ===

impl RouteTable {
    /// Builds a table from entries in order. Entries after the first catch-all are dropped, as
    /// Istio stops generating routes there.
    pub fn new(entries: impl IntoIterator<Item = RouteEntry>) -> Self {
        let mut out = Vec::new();
        for e in entries {
            let stop = e.is_catch_all();
            out.push(e);
            if stop {
                break;
            }
        }
        let index = PathIndex::build(&out);
        RouteTable {
            entries: out,
            index,
        }
    }

    /// The routes in order.
    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }

    /// The first route whose conditions all hold.
    pub fn find<'t>(&'t self, req: &RouteRequest<'_>) -> Option<&'t RouteEntry> {
        let ix = &self.index;
        let path = req.path;
        // Candidate lists, each sorted by route order; the answer is the lowest index in their
        // union whose full conditions hold.
        let too_many = ix.prefix_lens.len() + ix.folded_prefix_lens.len() + 3 > MAX_LISTS;
        if too_many {
            return self.scan(req);
        }
        let mut cands = Candidates::default();
        let mut push = |l: &'t [u32]| cands.push(l);
        push(&ix.always);
        if let Some(l) = ix.exact.get(path) {
            push(l);
        }
        for &len in &ix.prefix_lens {
            if len > path.len() {
                break;
            }
            if let Some(l) = path.get(..len).and_then(|p| ix.prefix.get(p)) {
                push(l);
            }
        }
        if !ix.folded_exact.is_empty() || !ix.folded_prefix.is_empty() {
            let lower = path.to_ascii_lowercase();
            if let Some(l) = ix.folded_exact.get(lower.as_str()) {
                push(l);
            }
            for &len in &ix.folded_prefix_lens {
                if len > lower.len() {
                    break;
                }
                if let Some(l) = lower.get(..len).and_then(|p| ix.folded_prefix.get(p)) {
                    push(l);
                }
            }
        }
        let lists = &mut cands.lists[..cands.n];
        loop {
            let mut best: Option<(usize, u32)> = None;
            for (li, l) in lists.iter().enumerate() {
                if let Some(&head) = l.first().filter(|h| best.is_none_or(|(_, b)| **h < b)) {
                    best = Some((li, head));
                }
            }
            let (_, idx) = best?;
            for l in lists.iter_mut() {
                if l.first() == Some(&idx) {
                    *l = &l[1..];
                }
            }
            let entry = &self.entries[idx as usize];
            if entry_matches(entry, req) {
                return Some(entry);
            }
        }
    }

    /// The first matching route by a plain scan (the reference the index must agree with).
    pub fn scan(&self, req: &RouteRequest<'_>) -> Option<&RouteEntry> {
        self.entries.iter().find(|e| entry_matches(e, req))
    }
}

const MAX_LISTS: usize = 40;

/// Up to [`MAX_LISTS`] sorted candidate lists, on the stack.
struct Candidates<'t> {
    lists: [&'t [u32]; MAX_LISTS],
    n: usize,
}

impl Default for Candidates<'_> {
    fn default() -> Self {
        Candidates {
            lists: [&[]; MAX_LISTS],
            n: 0,
        }
    }
}

impl<'t> Candidates<'t> {
    fn push(&mut self, l: &'t [u32]) {
        if !l.is_empty() && self.n < MAX_LISTS {
            self.lists[self.n] = l;
            self.n += 1;
        }
    }
}

fn entry_matches(e: &RouteEntry, req: &RouteRequest<'_>) -> bool {
    match e.match_block() {
        None => true,
        Some(b) => block_matches(b, req),
    }
}

/// All conditions of a block hold (config-time selectors were applied when the table was
/// built).
pub fn block_matches(b: &MatchBlock, req: &RouteRequest<'_>) -> bool {
    b.port.is_none_or(|p| p == u32::from(req.port))
        && b.uri
            .as_ref()
            .is_none_or(|u| u.matches_folded(req.path, b.ignore_uri_case))
        && b.method.as_ref().is_none_or(|m| m.matches(req.method))
        && b.scheme.as_ref().is_none_or(|m| m.matches(req.scheme))
        && b.authority
            .as_ref()
            .is_none_or(|m| m.matches(req.authority))
        && b.headers.iter().all(|h| h.matches(req.headers))
        && b.query.iter().all(|q| q.matches(req.query))
}

// === impl PathIndex ===

impl PathIndex {
    fn build(entries: &[RouteEntry]) -> Self {
        let mut ix = PathIndex::default();
        for (i, e) in entries.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let block = e.match_block();
            let fold = block.is_some_and(|b| b.ignore_uri_case);
            match block.and_then(|b| b.uri.as_ref()) {
                Some(StrMatcher::Exact(p)) if fold => ix
                    .folded_exact
                    .entry(p.as_str().into())
                    .or_default()
                    .push(i),
                Some(StrMatcher::Exact(p)) => {
                    ix.exact.entry(p.as_str().into()).or_default().push(i)
                }
                Some(StrMatcher::Prefix(p)) if !p.is_empty() && fold => ix
                    .folded_prefix
                    .entry(p.as_str().into())
                    .or_default()
                    .push(i),
                Some(StrMatcher::Prefix(p)) if !p.is_empty() => {
                    ix.prefix.entry(p.as_str().into()).or_default().push(i)
                }
                // A regex (never case-folded, Istio) whose every full match starts with a
                // literal is a candidate only for paths with that prefix.
                Some(StrMatcher::Regex(r)) => match regex_literal_prefix(r) {
                    Some(p) => ix.prefix.entry(p.into()).or_default().push(i),
                    None => ix.always.push(i),
                },
                _ => ix.always.push(i),
            }
        }
        ix.prefix_lens = distinct_lens(ix.prefix.keys());
        ix.folded_prefix_lens = distinct_lens(ix.folded_prefix.keys());
        ix
    }
}

/// The literal text every full match of a compiled uri regex (`^(?:pattern)$`, see
/// [`crate::pattern::full_match`]) must start with; `None` when there is none or the pattern
/// has an alternation anywhere (conservative: the prefix must hold for every branch).
fn regex_literal_prefix(r: &regex::Regex) -> Option<String> {
    let pattern = r.as_str().strip_prefix("^(?:")?.strip_suffix(")$")?;
    if pattern.contains('|') {
        return None;
    }
    let mut out = String::new();
    for c in pattern.chars() {
        match c {
            // A quantifier makes the previous literal optional or repeated: drop it.
            '*' | '?' | '{' => {
                out.pop();
                break;
            }
            '\\' | '.' | '+' | '(' | ')' | '[' | ']' | '}' | '^' | '$' => break,
            c if c.is_whitespace() => break,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

fn distinct_lens<'a>(keys: impl Iterator<Item = &'a Box<str>>) -> Vec<usize> {
    let mut lens: Vec<usize> = keys.map(|k| k.len()).collect();
    lens.sort_unstable();
    lens.dedup();
    lens
}

#[cfg(test)]
mod tests;
