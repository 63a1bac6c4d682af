//! Maglev (Envoy `MAGLEV`): a prime-sized lookup table filled by each host's permutation in
//! turn, hosts with larger weights taking turns more often; a key goes to `table[key % M]`.

use super::super::{Candidates, Hosts};
use super::fmix64;

#[derive(Clone, Debug)]
pub(in super::super) struct Maglev {
    table: Vec<u32>,
}

struct Entry {
    host: u32,
    offset: u64,
    skip: u64,
    weight: u64,
    target: u64,
    next: u64,
}

// === impl Maglev ===

impl Maglev {
    pub(in super::super) fn build(hosts: &Hosts, candidates: Candidates<'_>, size: u64) -> Self {
        const EMPTY: u32 = u32::MAX;
        let max_w = candidates
            .iter()
            .map(|i| u64::from(hosts.weight(i)))
            .max()
            .unwrap_or(1);
        let mut entries: Vec<Entry> = candidates
            .iter()
            .map(|i| {
                let id = hosts.id(i);
                Entry {
                    host: i as u32,
                    offset: fmix64(id ^ 0x9e37_79b9_7f4a_7c15) % size,
                    skip: fmix64(id ^ 0xc2b2_ae3d_27d4_eb4f) % (size - 1) + 1,
                    weight: u64::from(hosts.weight(i)),
                    target: 0,
                    next: 0,
                }
            })
            .collect();
        let mut table = vec![EMPTY; size as usize];
        let mut filled = 0u64;
        // A host of maximum weight takes a slot every iteration; one of a third of it every
        // third iteration.
        let mut iteration = 1u64;
        while filled < size && !entries.is_empty() {
            for e in entries.iter_mut() {
                if filled == size {
                    break;
                }
                if iteration * e.weight < e.target {
                    continue;
                }
                e.target += max_w;
                loop {
                    let c = ((e.offset + e.next * e.skip) % size) as usize;
                    e.next += 1;
                    if table[c] == EMPTY {
                        table[c] = e.host;
                        filled += 1;
                        break;
                    }
                }
            }
            iteration += 1;
        }
        Maglev { table }
    }

    #[inline]
    pub(in super::super) fn lookup(&self, key: u64) -> usize {
        self.table[(key % self.table.len() as u64) as usize] as usize
    }
}
