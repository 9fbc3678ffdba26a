//! Byte formats shared with the Python reference library: what `json.dumps` and `repr` print.
//!
//! The reference writes its application keys with Python's `json.dumps` defaults
//! (`", "` between items, `": "` after keys, every character outside printable ASCII escaped
//! as `\uXXXX` with lower-case hex) and logs errors through `repr`. A fleet half on the Python
//! charm and half on ours reads the same bytes, so both are reproduced here exactly.

use std::fmt::Write as _;

/// Appends `s` as a JSON string the way Python's `json.dumps(s)` (with `ensure_ascii=True`)
/// writes it.
pub fn push_py_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// `json.dumps(list_of_ints)`: `[]`, `[0]`, `[0, 1, 2]`.
pub fn format_stack(stack: &[u32]) -> String {
    let mut out = String::with_capacity(2 + stack.len() * 4);
    out.push('[');
    for (i, id) in stack.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{id}");
    }
    out.push(']');
    out
}

/// Why an `upgrade-stack` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackFormatError {
    /// Not JSON at all.
    #[error("upgrade-stack is not JSON ({0})")]
    NotJson(String),
    /// JSON, but not a list.
    #[error("upgrade-stack is not a JSON list")]
    NotAList,
    /// A list holding something other than unit numbers.
    #[error("upgrade-stack item {index} is {found}, not a unit number")]
    NotAUnitNumber {
        /// Position in the list.
        index: usize,
        /// The offending JSON value.
        found: String,
    },
    /// A unit listed twice (the stack holds each unit once).
    #[error("upgrade-stack lists unit {unit} twice (item {index})")]
    Repeated {
        /// The unit.
        unit: u32,
        /// Position of the repeat.
        index: usize,
    },
}

/// Parses an `upgrade-stack` value: a JSON list of unit numbers, any whitespace (Python's
/// `json.loads` accepts `[0,1]` as well as `[0, 1]`), each unit at most once.
///
/// The list is read one element at a time and reading stops at the first element that is
/// not a unit number or repeats one, so the work is linear in the value's length whatever a
/// peer wrote (the error says which element).
pub fn parse_stack(text: &str) -> Result<Vec<u32>, StackFormatError> {
    let mut problem = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = serde::de::DeserializeSeed::deserialize(
        StackSeed {
            problem: &mut problem,
        },
        &mut de,
    )
    .and_then(|stack| de.end().map(|()| stack));
    match (parsed, problem) {
        (_, Some(p)) => Err(p),
        (Ok(stack), None) => Ok(stack),
        // Valid JSON that is no list, or no JSON at all (only on this error path is the
        // text read a second time).
        (Err(_), None) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            Err(StackFormatError::NotAList)
        }
        (Err(e), None) => Err(StackFormatError::NotJson(e.to_string())),
    }
}

/// Reads the list element by element; a bad element is recorded in `problem` and ends the
/// parse at once (the error returned to serde only stops it).
struct StackSeed<'p> {
    problem: &'p mut Option<StackFormatError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for StackSeed<'_> {
    type Value = Vec<u32>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<u32>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StackSeed<'_> {
    type Value = Vec<u32>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON list of unit numbers")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u32>, A::Error> {
        use serde::de::Error as _;
        let mut stack = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            let index = stack.len();
            let Some(id) = item.as_u64().and_then(|n| u32::try_from(n).ok()) else {
                *self.problem = Some(StackFormatError::NotAUnitNumber {
                    index,
                    found: truncate(&item.to_string(), 40),
                });
                return Err(A::Error::custom("stop"));
            };
            if !seen.insert(id) {
                *self.problem = Some(StackFormatError::Repeated { unit: id, index });
                return Err(A::Error::custom("stop"));
            }
            stack.push(id);
        }
        Ok(stack)
    }
}

/// Python's `repr(str)`: single quotes unless the text holds a single quote and no double
/// quote; backslash, the chosen quote and control characters escaped.
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Shortens `s` to at most `max` characters for a message, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}...", &s[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_like_python() {
        let mut out = String::new();
        push_py_json_str(&mut out, "a\"b\\c\nd\té\u{7f}\u{1F600}\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\t\u00e9\u007f\ud83d\ude00\u0001""#);
    }

    #[test]
    fn stacks_print_with_comma_space() {
        assert_eq!(format_stack(&[]), "[]");
        assert_eq!(format_stack(&[7]), "[7]");
        assert_eq!(format_stack(&[0, 1, 2]), "[0, 1, 2]");
    }

    #[test]
    fn stacks_parse_any_spacing_and_reject_the_rest() {
        assert_eq!(parse_stack("[0,1, 2]").unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_stack(" [] ").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_stack("5"), Err(StackFormatError::NotAList));
        assert!(matches!(
            parse_stack("[0, -1]"),
            Err(StackFormatError::NotAUnitNumber { index: 1, .. })
        ));
        assert!(matches!(
            parse_stack("[true]"),
            Err(StackFormatError::NotAUnitNumber { .. })
        ));
        assert!(matches!(
            parse_stack("[1.5]"),
            Err(StackFormatError::NotAUnitNumber { .. })
        ));
        assert!(matches!(
            parse_stack("[0, 1"),
            Err(StackFormatError::NotJson(_))
        ));
        assert_eq!(
            parse_stack("[2, 0, 2]"),
            Err(StackFormatError::Repeated { unit: 2, index: 2 })
        );
        assert_eq!(parse_stack("{\"a\": 1}"), Err(StackFormatError::NotAList));
        assert_eq!(parse_stack("\"[0]\""), Err(StackFormatError::NotAList));
        assert!(matches!(
            parse_stack("[0] x"),
            Err(StackFormatError::NotJson(_))
        ));
    }

    #[test]
    fn stack_parsing_stops_at_the_first_bad_element() {
        // What follows the repeat is never read: 1 MB of text that is not even JSON.
        let hostile = format!("[0, 0, {}", "x".repeat(1 << 20));
        assert_eq!(
            parse_stack(&hostile),
            Err(StackFormatError::Repeated { unit: 0, index: 1 })
        );
        let hostile = format!("[0, true, {}", "[".repeat(1 << 20));
        assert!(matches!(
            parse_stack(&hostile),
            Err(StackFormatError::NotAUnitNumber { index: 1, .. })
        ));
        // A 1 MB stack of zeros is refused at its second element.
        let zeros = format!("[0{}]", ", 0".repeat(350_000));
        assert_eq!(
            parse_stack(&zeros),
            Err(StackFormatError::Repeated { unit: 0, index: 1 })
        );
    }

    #[test]
    fn repr_picks_quotes_like_python() {
        assert_eq!(py_repr_str("abc"), "'abc'");
        assert_eq!(py_repr_str("it's"), "\"it's\"");
        assert_eq!(py_repr_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr_str("x\\y\n"), "'x\\\\y\\n'");
        assert_eq!(py_repr_str(""), "''");
    }
}
