//! Linkerd's retry budget (spec §5.4), exact and lock-free.
//!
//! Linkerd (tower's `TpsBudget`) turns the ratio into `deposit = 1, withdraw = trunc(1 / r)`,
//! so any ratio in (0.5, 1] behaves as 1.0 (tower issue 857). Here the ratio is a fraction in
//! parts per million reduced to lowest terms: ratio 0.6 deposits 3 tokens per request and costs
//! 5 per retry, so 1000 requests pay for exactly 600 retries. The reserve is
//! `minRetriesPerSecond x floor(ttl seconds)` retries and never decays; deposits and
//! withdrawals age out of a window of ten slots of `ttl / 10` each.
//!
//! The hot path is a handful of atomic operations: each slot packs its epoch tag and its net
//! tokens in one `AtomicU64`, and a running balance (reserve + live slots) decides withdrawals
//! with a compare-and-swap, so concurrent withdrawals never overdraw it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
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
    slot_nanos: u128,
    origin: Instant,
    /// Reserve plus the net tokens of every live slot.
    balance: AtomicI64,
    /// The newest epoch any operation has seen.
    epoch: AtomicU64,
    slots: [AtomicU64; SLOTS as usize],
}

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
            slot_nanos: ttl.as_nanos() / u128::from(SLOTS),
            origin: now,
            balance: AtomicI64::new(reserve),
            epoch: AtomicU64::new(0),
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
        let recorded = self.record(e, self.deposit);
        self.balance.fetch_add(recorded, Ordering::AcqRel);
    }

    /// Takes the cost of one retry if the balance covers it.
    pub fn withdraw(&self, now: Instant) -> bool {
        let e = self.advance(now);
        self.sweep(e, false);
        let mut b = self.balance.load(Ordering::Acquire);
        loop {
            if b < self.withdraw {
                return false;
            }
            match self.balance.compare_exchange_weak(
                b,
                b - self.withdraw,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => b = actual,
            }
        }
        // A withdrawal that cannot be recorded in its slot is never given back: conservative.
        self.record(e, -self.withdraw);
        true
    }

    /// Retries the budget would admit right now.
    pub fn available(&self, now: Instant) -> u64 {
        let e = self.advance(now);
        self.sweep(e, false);
        (self.balance.load(Ordering::Acquire).max(0) / self.withdraw) as u64
    }

    fn epoch_of(&self, now: Instant) -> u64 {
        let n = now.saturating_duration_since(self.origin).as_nanos() / self.slot_nanos;
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// The epoch of `now`; the first operation of a new epoch expires old slots.
    fn advance(&self, now: Instant) -> u64 {
        let e = self.epoch_of(now);
        if e > self.epoch.load(Ordering::Acquire) {
            let prev = self.epoch.fetch_max(e, Ordering::AcqRel);
            if prev < e {
                // After an idle gap longer than the tags can tell apart, every slot is old
                // (an operation racing this very sweep may lose its record; such a gap is
                // weeks long).
                self.sweep(e, e - prev >= 1 << (TAG_BITS - 1));
            }
        }
        e
    }

    /// Expires every slot older than the window ending at epoch `e`.
    fn sweep(&self, e: u64, all: bool) {
        let tag = e & TAG_MASK;
        for slot in &self.slots {
            let mut x = slot.load(Ordering::Acquire);
            loop {
                let (t, v) = unpack(x);
                let expired = all || age(tag, t) >= SLOTS;
                if v == 0 || !expired {
                    break;
                }
                match slot.compare_exchange_weak(x, pack(t, 0), Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => {
                        self.balance.fetch_sub(v, Ordering::AcqRel);
                        break;
                    }
                    Err(actual) => x = actual,
                }
            }
        }
    }

    /// Adds `delta` to epoch `e`'s slot; returns what was recorded (less when the slot
    /// saturates, nothing when the slot already moved past `e`).
    fn record(&self, e: u64, delta: i64) -> i64 {
        let tag = e & TAG_MASK;
        let slot = &self.slots[(e % SLOTS) as usize];
        let mut x = slot.load(Ordering::Acquire);
        loop {
            let (t, v) = unpack(x);
            let (new, recorded, expired) = if t == tag {
                let nv = (v + delta).clamp(VALUE_MIN, VALUE_MAX);
                (pack(t, nv), nv - v, 0)
            } else if age(tag, t) >= 1 << (TAG_BITS - 1) {
                // The slot belongs to a later epoch: this operation's epoch has expired.
                return 0;
            } else {
                let nv = delta.clamp(VALUE_MIN, VALUE_MAX);
                (pack(tag, nv), nv, v)
            };
            match slot.compare_exchange_weak(x, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if expired != 0 {
                        self.balance.fetch_sub(expired, Ordering::AcqRel);
                    }
                    return recorded;
                }
                Err(actual) => x = actual,
            }
        }
    }
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
