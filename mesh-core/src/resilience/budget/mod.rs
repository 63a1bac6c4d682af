//! Linkerd's retry budget (spec §5.4), exact and lock-free.
//!
//! Linkerd (tower's `TpsBudget`) turns the ratio into `deposit = 1, withdraw = trunc(1 / r)`,
//! so any ratio in (0.5, 1] behaves as 1.0 (tower issue 857). Here the ratio is a fraction in
//! parts per million reduced to lowest terms: ratio 0.6 deposits 3 tokens per request and costs
//! 5 per retry, so 1000 requests pay for exactly 600 retries. The reserve is
//! `minRetriesPerSecond x floor(ttl seconds)` retries and never decays; deposits and
//! withdrawals age out of a window of ten slots of `ttl / 10` each.
//!
//! Lock-free: each slot packs its epoch tag and its net tokens in one `AtomicU64`. Operations
//! only ever write the slot of the newest epoch seen (a caller whose `now` lags is placed
//! there). A deposit is one compare-and-swap on that slot. A withdrawal reads the other slots
//! and compare-and-swaps the current slot only if reserve + all live slots still cover the cost,
//! so withdrawals are serialized by that CAS; one that completes just as the epoch advances
//! gives its tokens back and decides again in the new slot. Slots that leave the window are no
//! longer counted and are overwritten by the next operation of their index.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::profile::RetryBudgetSettings;

/// Number of slots in the window (as Linkerd).
pub const SLOTS: u64 = 10;
/// Ratio denominator: ratios are parts per million.
pub const PPM: u64 = 1_000_000;

const TAG_BITS: u32 = 24;
const VALUE_BITS: u32 = 40;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const VALUE_MASK: u64 = (1 << VALUE_BITS) - 1;
const VALUE_MAX: i64 = (1 << (VALUE_BITS - 1)) - 1;
const VALUE_MIN: i64 = -(1 << (VALUE_BITS - 1));

/// A budget the Linkerd proxy would reject (it then retries nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBudget {
    /// `retryRatio` outside `[0, 1000]` or not a number.
    #[error("retryRatio must be within [0, 1000]")]
    Ratio,
    /// `minRetriesPerSecond` above `i32::MAX`.
    #[error("minRetriesPerSecond must be at most 2147483647")]
    MinRetries,
    /// `ttl` outside `[1s, 60s]`.
    #[error("ttl must be within [1s, 60s]")]
    Ttl,
}

/// A retry budget shared by every request of a route set (put it in an `Arc`).
#[derive(Debug)]
pub struct RetryBudget {
    deposit: i64,
    withdraw: i64,
    reserve: i64,
    slot_nanos: u64,
    origin: Instant,
    /// The newest epoch any operation has seen (to detect idle gaps longer than the tags).
    seen: AtomicU64,
    /// The sum of the slots other than the current one, packed with the current epoch's tag
    /// (those slots no longer change, except by late operations that only make the cached
    /// sum conservative), or [`UNCACHED`].
    others: AtomicU64,
    /// On their own cache lines: writes to the slots do not evict the read-mostly fields above
    /// from other cores.
    slots: Slots,
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Slots([AtomicU64; SLOTS as usize]);

impl std::ops::Deref for Slots {
    type Target = [AtomicU64; SLOTS as usize];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// No cached sum.
const UNCACHED: u64 = u64::MAX;

// === impl RetryBudget ===

impl RetryBudget {
    /// A budget from Linkerd's settings (the ratio rounded to parts per million), its window
    /// starting at `now`.
    pub fn try_new(settings: &RetryBudgetSettings, now: Instant) -> Result<Self, InvalidBudget> {
        let r = settings.retry_ratio;
        if !(0.0..=1000.0).contains(&r) {
            return Err(InvalidBudget::Ratio);
        }
        // In range, so the cast cannot saturate.
        let ppm = (r * PPM as f64).round() as u64;
        Self::from_ppm(
            ppm,
            u64::from(settings.min_retries_per_second),
            settings.ttl.to_std(),
            now,
        )
    }

    /// A budget with the ratio in parts per million (`600_000` is 0.6).
    pub fn from_ppm(
        ratio_ppm: u64,
        min_retries_per_second: u64,
        ttl: Duration,
        now: Instant,
    ) -> Result<Self, InvalidBudget> {
        if ratio_ppm > 1000 * PPM {
            return Err(InvalidBudget::Ratio);
        }
        if min_retries_per_second > i32::MAX as u64 {
            return Err(InvalidBudget::MinRetries);
        }
        if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(60) {
            return Err(InvalidBudget::Ttl);
        }
        let (deposit, withdraw) = if ratio_ppm == 0 {
            (0, 1)
        } else {
            let g = gcd(ratio_ppm, PPM);
            (ratio_ppm / g, PPM / g)
        };
        // <= 2^31 x 60 x 10^6 < 2^63: cannot overflow.
        let reserve = min_retries_per_second * ttl.as_secs() * withdraw;
        let reserve = i64::try_from(reserve).map_err(|_| InvalidBudget::MinRetries)?;
        Ok(RetryBudget {
            deposit: deposit as i64,
            withdraw: withdraw as i64,
            reserve,
            // ttl <= 60s, so its nanoseconds fit in u64.
            slot_nanos: (ttl.as_nanos() / u128::from(SLOTS)) as u64,
            origin: now,
            seen: AtomicU64::new(0),
            others: AtomicU64::new(UNCACHED),
            slots: Default::default(),
        })
    }

    /// Tokens one request deposits and one retry costs (the ratio in lowest terms).
    pub fn tokens(&self) -> (u64, u64) {
        (self.deposit as u64, self.withdraw as u64)
    }

    /// Tokens of the reserve (`minRetriesPerSecond x floor(ttl seconds) x` the retry cost).
    pub fn reserve(&self) -> u64 {
        self.reserve as u64
    }

    /// Records a response that was not retried.
    pub fn deposit(&self, now: Instant) {
        if self.deposit == 0 {
            return;
        }
        let e = self.advance(now);
        let tag = e & TAG_MASK;
        let slot = &self.slots[(e % SLOTS) as usize];
        let mut x = slot.load(Ordering::SeqCst);
        loop {
            let (t, v) = unpack(x);
            let nv = if t == tag {
                // Saturating: a deposit lost at the bound only makes the budget stricter.
                (v + self.deposit).min(VALUE_MAX)
            } else if is_future(tag, t) {
                // A later slot already took this index: this epoch has left the window.
                return;
            } else {
                self.deposit
            };
            match slot.compare_exchange_weak(x, pack(tag, nv), Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return,
                Err(actual) => x = actual,
            }
        }
    }

    /// Takes the cost of one retry if the reserve plus the live slots cover it.
    pub fn withdraw(&self, now: Instant) -> bool {
        loop {
            let e = self.advance(now);
            let tag = e & TAG_MASK;
            let index = (e % SLOTS) as usize;
            let slot = &self.slots[index];
            let mut others = self.cached_others(tag, index);
            let mut x = slot.load(Ordering::SeqCst);
            loop {
                let (t, v) = unpack(x);
                let current = if t == tag {
                    v
                } else if is_future(tag, t) {
                    return false;
                } else {
                    0
                };
                let nv = current - self.withdraw;
                if self.reserve + others + current < self.withdraw || nv < VALUE_MIN {
                    return false;
                }
                match slot.compare_exchange_weak(
                    x,
                    pack(tag, nv),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                ) {
                    Ok(_) => break,
                    Err(actual) => {
                        x = actual;
                        others = self.cached_others(tag, index);
                    }
                }
            }
            // If the epoch moved on meanwhile, an operation in the new slot may have read this
            // slot before the write above: undo it and decide again in the new epoch. If it did
            // not move, every later reader sees this write.
            if self.seen.load(Ordering::SeqCst) == e {
                return true;
            }
            self.refund(slot, tag);
        }
    }

    /// Retries the budget would admit right now.
    pub fn available(&self, now: Instant) -> u64 {
        let e = self.advance(now);
        let tag = e & TAG_MASK;
        let index = (e % SLOTS) as usize;
        let (t, v) = unpack(self.slots[index].load(Ordering::SeqCst));
        let current = if t == tag { v } else { 0 };
        ((self.reserve + self.others(tag, index) + current).max(0) / self.withdraw) as u64
    }

    /// [`Self::others`], computed once per epoch. A deposit that lands in an older slot after
    /// the sum was taken is missed (stricter); a withdrawal there is refunded by its caller.
    fn cached_others(&self, tag: u64, index: usize) -> i64 {
        let cached = self.others.load(Ordering::SeqCst);
        if cached != UNCACHED {
            let (t, v) = unpack(cached);
            if t == tag {
                return v;
            }
        }
        let sum = self.others(tag, index);
        if (VALUE_MIN..=VALUE_MAX).contains(&sum) {
            self.others.store(pack(tag, sum), Ordering::SeqCst);
        }
        sum
    }

    /// Net tokens of the live slots other than `index`; slots of later epochs count only
    /// when negative (conservative for callers whose `now` lags).
    fn others(&self, tag: u64, index: usize) -> i64 {
        let mut sum = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            if i == index {
                continue;
            }
            let (t, v) = unpack(slot.load(Ordering::SeqCst));
            if age(tag, t) < SLOTS {
                sum += v;
            } else if is_future(tag, t) {
                sum += v.min(0);
            }
        }
        sum
    }

    fn refund(&self, slot: &AtomicU64, tag: u64) {
        let mut x = slot.load(Ordering::SeqCst);
        loop {
            let (t, v) = unpack(x);
            if t != tag {
                // The slot left the window: the withdrawal expired with it.
                return;
            }
            let nv = (v + self.withdraw).min(VALUE_MAX);
            match slot.compare_exchange_weak(x, pack(t, nv), Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return,
                Err(actual) => x = actual,
            }
        }
    }

    fn nanos_of(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.origin);
        d.as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()))
    }

    /// The epoch of `now`. After an idle gap longer than the tags can tell apart, the first
    /// operation clears every slot so that none is mistaken for a live one.
    /// A caller whose `now` lags behind another's is placed in the newest epoch seen, so that
    /// operations write only the current slot.
    fn advance(&self, now: Instant) -> u64 {
        let nanos = self.nanos_of(now);
        let seen = self.seen.load(Ordering::SeqCst);
        // Before the end of the newest epoch: no division needed.
        if nanos < (seen + 1).saturating_mul(self.slot_nanos) {
            return seen;
        }
        let e = nanos / self.slot_nanos;
        let prev = self.seen.fetch_max(e, Ordering::SeqCst);
        if prev >= e {
            return prev;
        }
        if e - prev >= 1 << (TAG_BITS - 1) {
            self.others.store(UNCACHED, Ordering::SeqCst);
            for slot in self.slots.iter() {
                let x = slot.load(Ordering::SeqCst);
                let (t, v) = unpack(x);
                if v != 0 {
                    // If this fails, an operation of the new epoch just wrote the slot.
                    let _ =
                        slot.compare_exchange(x, pack(t, 0), Ordering::SeqCst, Ordering::SeqCst);
                }
            }
        }
        e
    }
}

/// Whether tag `t` belongs to an epoch after `now`'s.
fn is_future(now: u64, t: u64) -> bool {
    t != now && age(now, t) >= 1 << (TAG_BITS - 1)
}

/// Epochs from tag `t` to tag `now`, modulo the tag width.
fn age(now: u64, t: u64) -> u64 {
    now.wrapping_sub(t) & TAG_MASK
}

fn pack(tag: u64, value: i64) -> u64 {
    (tag << VALUE_BITS) | (value as u64 & VALUE_MASK)
}

fn unpack(x: u64) -> (u64, i64) {
    let tag = x >> VALUE_BITS;
    let value = ((x << (64 - VALUE_BITS)) as i64) >> (64 - VALUE_BITS);
    (tag, value)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests;
