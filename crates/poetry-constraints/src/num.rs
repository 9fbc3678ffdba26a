//! Non-negative integers of any size, as PEP 440 numbers are (`18446744073709551616` is a
//! valid release component and compares as a number).
//!
//! Most numbers fit a `u64` and are stored as one; larger ones keep their decimal digits.
//! CPython refuses to convert a string of more than 4300 digits to an integer, so poetry-core
//! fails on such versions: [`Num::parse`] does the same.

use std::cmp::Ordering;
use std::fmt;

/// CPython's default `sys.get_int_max_str_digits()`: longer digit strings raise ValueError.
pub const MAX_DIGITS: usize = 4300;

/// A non-negative integer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Num {
    /// Fits in 64 bits.
    Small(u64),
    /// Larger than `u64::MAX`: decimal digits, no leading zeros (boxed twice so that a
    /// `Num` stays two words).
    Big(Box<Box<str>>),
}

impl Num {
    /// Zero.
    pub const ZERO: Num = Num::Small(0);

    /// Parse ASCII decimal digits (leading zeros allowed). `None` for an empty string, a
    /// non-digit, or more than [`MAX_DIGITS`] digits (counting leading zeros, like CPython).
    pub fn parse(digits: &str) -> Option<Num> {
        // Up to 19 digits always fit a u64: one pass that checks and accumulates.
        if !digits.is_empty() && digits.len() <= 19 {
            let mut n = 0u64;
            for b in digits.bytes() {
                let d = b.wrapping_sub(b'0');
                if d > 9 {
                    return None;
                }
                n = n * 10 + u64::from(d);
            }
            return Some(Num::Small(n));
        }
        if digits.is_empty()
            || digits.len() > MAX_DIGITS
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        if let Ok(n) = digits.parse::<u64>() {
            return Some(Num::Small(n));
        }
        let trimmed = digits.trim_start_matches('0');
        match trimmed.parse::<u64>() {
            Ok(n) => Some(Num::Small(n)),
            Err(_) => Some(Num::Big(Box::new(trimmed.into()))),
        }
    }

    /// Is this zero?
    pub fn is_zero(&self) -> bool {
        matches!(self, Num::Small(0))
    }

    /// This number plus one.
    pub fn succ(&self) -> Num {
        match self {
            Num::Small(n) => match n.checked_add(1) {
                Some(m) => Num::Small(m),
                None => Num::Big(Box::new("18446744073709551616".into())),
            },
            Num::Big(d) => {
                let mut digits: Vec<u8> = d.bytes().collect();
                let mut i = digits.len();
                loop {
                    if i == 0 {
                        digits.insert(0, b'1');
                        break;
                    }
                    i -= 1;
                    if digits[i] == b'9' {
                        digits[i] = b'0';
                    } else {
                        digits[i] += 1;
                        break;
                    }
                }
                Num::Big(Box::new(
                    String::from_utf8(digits).expect("ASCII digits").into(),
                ))
            }
        }
    }

    /// This number minus one (`None` for zero).
    pub fn pred(&self) -> Option<Num> {
        match self {
            Num::Small(0) => None,
            Num::Small(n) => Some(Num::Small(n - 1)),
            Num::Big(d) => {
                let mut digits: Vec<u8> = d.bytes().collect();
                let mut i = digits.len();
                while i > 0 {
                    i -= 1;
                    if digits[i] == b'0' {
                        digits[i] = b'9';
                    } else {
                        digits[i] -= 1;
                        break;
                    }
                }
                let s = String::from_utf8(digits).expect("ASCII digits");
                Num::parse(&s)
            }
        }
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        match (self, other) {
            (Num::Small(a), Num::Small(b)) => a.cmp(b),
            (Num::Small(_), Num::Big(_)) => Ordering::Less,
            (Num::Big(_), Num::Small(_)) => Ordering::Greater,
            (Num::Big(a), Num::Big(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Small(n) => write!(f, "{n}"),
            Num::Big(d) => f.write_str(d.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_compare_and_step() {
        let p = |s| Num::parse(s).unwrap();
        assert_eq!(p("007"), Num::Small(7));
        assert_eq!(p("18446744073709551615"), Num::Small(u64::MAX));
        let big = p("18446744073709551616");
        assert_eq!(big, Num::Big(Box::new("18446744073709551616".into())));
        assert_eq!(p("000018446744073709551616"), big);
        assert!(big > p("18446744073709551615"));
        assert!(p("99999999999999999999999") > big);
        assert_eq!(Num::Small(u64::MAX).succ(), big);
        assert_eq!(
            p("999999999999999999999").succ(),
            p("1000000000000000000000")
        );
        assert_eq!(big.pred(), Some(Num::Small(u64::MAX)));
        assert_eq!(
            p("1000000000000000000000").pred(),
            Some(p("999999999999999999999"))
        );
        assert_eq!(Num::ZERO.pred(), None);
        assert_eq!(big.to_string(), "18446744073709551616");
        assert!(Num::parse("").is_none());
        assert!(Num::parse("1a").is_none());
        assert!(Num::parse("٣").is_none());
        assert!(Num::parse(&"1".repeat(MAX_DIGITS)).is_some());
        assert!(Num::parse(&"1".repeat(MAX_DIGITS + 1)).is_none());
        assert!(Num::parse(&format!("{}1", "0".repeat(MAX_DIGITS))).is_none());
    }
}
