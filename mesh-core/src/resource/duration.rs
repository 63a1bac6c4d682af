//! Go-syntax durations (`30s`, `1.5s`, `100ms`, `1h30m`) as Istio and Linkerd write them.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

/// A non-negative duration with nanosecond precision, parsed exactly (no float rounding).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    nanos: u64,
}

/// Why a duration did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Empty text.
    #[error("empty duration")]
    Empty,
    /// A leading minus.
    #[error("negative duration {0:?}")]
    Negative(String),
    /// Not Go duration syntax.
    #[error(
        "invalid duration {0:?}: expected a number with a unit, such as 30s, 1.5s, 100ms or 1h"
    )]
    Syntax(String),
    /// Larger than the supported range.
    #[error("duration {0:?} is too large")]
    Overflow(String),
}

const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Durations above ~292 years do not fit; Istio's own cap is far lower. Anything above 10 years
/// is rejected so that `now + d` can never overflow an `Instant` (CVE-2021-28682 class).
const MAX_NANOS: u64 = 10 * 365 * 24 * 3_600_000_000_000;

// === impl Duration ===

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration { nanos: 0 };

    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration {
            nanos: ms * 1_000_000,
        }
    }

    /// From whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration {
            nanos: s * 1_000_000_000,
        }
    }

    /// Parses Go `time.ParseDuration` syntax without a sign: one or more `<decimal><unit>`.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        if s.starts_with('-') {
            return Err(DurationError::Negative(text.to_owned()));
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        if s == "0" {
            return Ok(Duration::ZERO);
        }
        let syntax = || DurationError::Syntax(text.to_owned());
        let overflow = || DurationError::Overflow(text.to_owned());
        let mut rest = s;
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (int_part, after) = rest.split_at(int_len);
            let (frac_part, after) = match after.strip_prefix('.') {
                Some(a) => {
                    let n = a.bytes().take_while(u8::is_ascii_digit).count();
                    a.split_at(n)
                }
                None => ("", after),
            };
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(syntax());
            }
            let unit_len = after
                .char_indices()
                .find(|(_, c)| c.is_ascii_digit() || *c == '.')
                .map_or(after.len(), |(i, _)| i);
            let (unit, next) = after.split_at(unit_len);
            let scale = UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, n)| u128::from(*n))
                .ok_or_else(syntax)?;
            let int: u128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| overflow())?
            };
            total = total
                .checked_add(int.checked_mul(scale).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
            // Fractions: exact down to the nanosecond; digits below a nanosecond are dropped
            // (Go does the same).
            let mut place = scale;
            for d in frac_part.bytes() {
                place /= 10;
                if place == 0 {
                    break;
                }
                total += u128::from(d - b'0') * place;
            }
            if total > u128::from(MAX_NANOS) {
                return Err(overflow());
            }
            rest = next;
        }
        Ok(Duration {
            nanos: u64::try_from(total).map_err(|_| overflow())?,
        })
    }

    /// Whole nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Whole milliseconds (truncated).
    pub const fn as_millis(self) -> u64 {
        self.nanos / 1_000_000
    }

    /// True when the value is a whole number of milliseconds.
    pub const fn is_whole_millis(self) -> bool {
        self.nanos.is_multiple_of(1_000_000)
    }

    /// True for zero.
    pub const fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// As a `std::time::Duration`.
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.nanos)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.nanos;
        if n == 0 {
            f.write_str("0s")
        } else if n.is_multiple_of(1_000_000_000) {
            write!(f, "{}s", n / 1_000_000_000)
        } else if n.is_multiple_of(1_000_000) {
            write!(f, "{}ms", n / 1_000_000)
        } else if n.is_multiple_of(1_000) {
            write!(f, "{}us", n / 1_000)
        } else {
            write!(f, "{n}ns")
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 30s, 1.5s, 100ms or 1h")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                if v == 0 {
                    Ok(Duration::ZERO)
                } else {
                    Err(E::custom(format!(
                        "duration {v} has no unit: write {v}s or {v}ms"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
