//! Kubernetes `resource.Quantity` (SMI v1alpha1 and Linkerd `dstOverrides` weights: `900m`, `1`).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

/// A non-negative quantity held as its text and its exact value in milli-units, rounded up as
/// Kubernetes' `MilliValue` does (`0.5m` -> 1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Quantity {
    text: String,
    milli: u64,
}

/// Why a quantity did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not quantity syntax.
    #[error(
        "invalid quantity {0:?}: expected a number with an optional suffix, such as 900m, 1 or 1.5"
    )]
    Syntax(String),
    /// Negative.
    #[error("negative quantity {0:?}")]
    Negative(String),
    /// Too large.
    #[error("quantity {0:?} is too large")]
    Overflow(String),
}

// === impl Quantity ===

impl Quantity {
    /// Parses `<number>[suffix]` with the decimal (`n u m k M G T P E`), binary
    /// (`Ki Mi Gi Ti Pi Ei`) and exponent (`e3`, `E-2`) suffixes.
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let s = text.trim();
        let syntax = || QuantityError::Syntax(text.to_owned());
        let overflow = || QuantityError::Overflow(text.to_owned());
        let (negative, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = body
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (num, suffix) = body.split_at(num_len);
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return Err(syntax());
        }
        // value = digits * 10^exp10 * 2^exp2
        let digits = format!("{int_part}{frac_part}");
        let mut exp10: i32 = -i32::try_from(frac_part.len()).map_err(|_| overflow())?;
        let mut exp2: u32 = 0;
        match suffix {
            "" => {}
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            "Ki" => exp2 = 10,
            "Mi" => exp2 = 20,
            "Gi" => exp2 = 30,
            "Ti" => exp2 = 40,
            "Pi" => exp2 = 50,
            "Ei" => exp2 = 60,
            e if e.starts_with(['e', 'E']) => {
                exp10 += e[1..].parse::<i32>().map_err(|_| syntax())?;
            }
            _ => return Err(syntax()),
        }
        let mantissa: u128 = digits.trim_start_matches('0').parse().unwrap_or(0);
        if negative && mantissa != 0 {
            return Err(QuantityError::Negative(text.to_owned()));
        }
        // milli = ceil(mantissa * 10^(exp10+3) * 2^exp2)
        let e = exp10 + 3;
        let scaled = mantissa.checked_shl(exp2).ok_or_else(overflow)?;
        let milli: u128 = if e >= 0 {
            let p = 10u128.checked_pow(e.unsigned_abs()).ok_or_else(overflow)?;
            scaled.checked_mul(p).ok_or_else(overflow)?
        } else {
            match 10u128.checked_pow(e.unsigned_abs()) {
                Some(p) => scaled.div_ceil(p),
                None => u128::from(scaled > 0),
            }
        };
        Ok(Quantity {
            text: s.to_owned(),
            milli: u64::try_from(milli).map_err(|_| overflow())?,
        })
    }

    /// The value in milli-units, rounded up (`1` -> 1000, `900m` -> 900).
    pub const fn milli(&self) -> u64 {
        self.milli
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity such as 900m or 1")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Quantity::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Quantity::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Quantity::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}
