//! A path index over the rules of one bucket, so that a request only evaluates the rules that
//! could match its path: a byte trie of the literal `paths` values (exact and `prefix*`) that
//! every operation of a rule requires. Rules without such a guard are always candidates.
//! Candidates are visited in rule order, so the first match is the one a linear scan finds.

use super::compile::{CompiledRule, Test};
use super::matcher::{PathPat, StrPat};

/// Candidates beyond this many trie hits fall back to a linear scan.
const MAX_HITS: usize = 64;

/// The index of one bucket; rule ids are positions in the bucket's flattened rule list.
#[derive(Clone, Debug, Default)]
pub struct PathIndex {
    nodes: Vec<Node>,
    /// Rules any path may match, ascending.
    unguarded: Vec<u32>,
    /// Number of rules.
    len: u32,
}

#[derive(Clone, Debug, Default)]
struct Node {
    edges: Vec<(u8, u32)>,
    prefix: Vec<u32>,
    exact: Vec<u32>,
}

// === impl PathIndex ===

impl PathIndex {
    /// Indexes `rules` (ids are their positions).
    pub fn build<'a>(rules: impl Iterator<Item = &'a CompiledRule>) -> Self {
        let mut idx = PathIndex {
            nodes: vec![Node::default()],
            ..PathIndex::default()
        };
        for (id, rule) in rules.enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            idx.len = id.saturating_add(1);
            if rule.never {
                continue;
            }
            match guard(rule) {
                Some(lits) => {
                    for (exact, lit) in lits {
                        idx.insert(lit, exact, id);
                    }
                }
                None => idx.unguarded.push(id),
            }
        }
        idx
    }

    fn insert(&mut self, lit: &[u8], exact: bool, id: u32) {
        let mut n = 0usize;
        for &b in lit {
            n = match self.nodes[n].edges.iter().find(|(e, _)| *e == b) {
                Some((_, next)) => *next as usize,
                None => {
                    let next = self.nodes.len();
                    self.nodes.push(Node::default());
                    let next32 = u32::try_from(next).unwrap_or(u32::MAX);
                    self.nodes[n].edges.push((b, next32));
                    next
                }
            };
        }
        let node = &mut self.nodes[n];
        if exact {
            node.exact.push(id);
        } else {
            node.prefix.push(id);
        }
    }

    /// The first candidate id, in ascending order, for which `f` holds.
    pub fn find(&self, path: &[u8], mut f: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut hits = [0u32; MAX_HITS];
        let Some(n) = self.collect(path, &mut hits) else {
            return (0..self.len).find(|id| f(*id));
        };
        let hits = &mut hits[..n];
        hits.sort_unstable();
        let (mut i, mut j) = (0, 0);
        let mut last = None;
        while i < hits.len() || j < self.unguarded.len() {
            let id = match (hits.get(i), self.unguarded.get(j)) {
                (Some(h), Some(u)) if h <= u => {
                    i += 1;
                    *h
                }
                (Some(h), None) => {
                    i += 1;
                    *h
                }
                (_, Some(u)) => {
                    j += 1;
                    *u
                }
                (None, None) => break,
            };
            if last == Some(id) {
                continue;
            }
            last = Some(id);
            if f(id) {
                return Some(id);
            }
        }
        None
    }

    /// Trie hits for `path`; `None` when there are more than fit.
    fn collect(&self, path: &[u8], out: &mut [u32; MAX_HITS]) -> Option<usize> {
        let mut n = 0;
        let mut push = |ids: &[u32]| {
            let end = n + ids.len();
            out.get_mut(n..end)?.copy_from_slice(ids);
            n = end;
            Some(())
        };
        let mut node = &self.nodes[0];
        for (i, b) in path.iter().enumerate() {
            push(&node.prefix)?;
            match node.edges.iter().find(|(e, _)| e == b) {
                Some((_, next)) => node = &self.nodes[*next as usize],
                None => return Some(n),
            }
            if i + 1 == path.len() {
                push(&node.prefix)?;
                push(&node.exact)?;
            }
        }
        if path.is_empty() {
            push(&node.prefix)?;
            push(&node.exact)?;
        }
        Some(n)
    }
}

/// The literal paths one of which every operation of the rule requires, as `(exact, bytes)`;
/// `None` when some operation (or an empty `to`) leaves the path open.
fn guard(rule: &CompiledRule) -> Option<Vec<(bool, &[u8])>> {
    if rule.to.is_empty() {
        return None;
    }
    let mut lits = Vec::new();
    for op in &rule.to {
        let pats = op.iter().find_map(|f| match &f.test {
            Test::Path(p) if !f.negated => literals(p),
            _ => None,
        })?;
        lits.extend(pats);
    }
    Some(lits)
}

fn literals(pats: &[PathPat]) -> Option<Vec<(bool, &[u8])>> {
    pats.iter()
        .map(|p| match p {
            PathPat::Str(StrPat::Exact(s)) => Some((true, &**s)),
            PathPat::Str(StrPat::Prefix(s)) => Some((false, &**s)),
            _ => None,
        })
        .collect()
}
