//! `parse_constraint`: how poetry-core 2.5.0 splits a constraint into OR groups and AND atoms
//! and what each atom means.
//!
//! The splitting rules are regular expressions in poetry-core; they are emulated here exactly,
//! including their look-arounds and Python's `$` (which also matches before a final newline):
//! - OR: `re.split(r"\s*\|\|?\s*", constraint.strip())`, then each piece loses trailing commas
//!   and then trailing whitespace;
//! - AND: `re.split(r"(?<!^)(?<![\^~=>< ,]) *(?<!-)[, ](?!-) *(?!,|$)", piece)`.
//!
//! Atoms are parsed with `nom` (see [`crate::version`]) and tried in poetry-core's order:
//! any (`*`, `x`, `v*.*`), `~`, `~=`, `^`, x-ranges (`==1.2.*`), basic comparisons.

use smallvec::SmallVec;
use std::sync::Arc;

use crate::algebra::{union_of, Broken, Range, Set};
use crate::num::MAX_DIGITS;
use crate::version::{is_py_space, version_pattern, RawVersion, Version};

/// A constraint poetry-core would refuse (`Could not parse version constraint: <atom>`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid constraint {input:?}: {message} at byte {byte}")]
pub struct ParseError {
    /// The whole constraint.
    pub input: String,
    /// What was expected or found.
    pub message: String,
    /// Byte offset in `input` where the problem is.
    pub byte: usize,
}

/// Why an atom failed. Explanations cost a second look at the atom, so they are only
/// worked out when someone will read them.
pub(crate) enum AtomError {
    /// Already explained: offset inside the atom and message.
    Known { at: usize, message: String },
    /// Nothing valid follows `~`, `~=` or `^` (at the offset).
    AfterOperator { op: &'static str, at: usize },
    /// The atom matches no form at all.
    Unmatched,
}

fn atom_err(at: usize, message: impl Into<String>) -> AtomError {
    AtomError::Known {
        at,
        message: message.into(),
    }
}

impl AtomError {
    fn describe(self, atom: &str) -> (usize, String) {
        match self {
            AtomError::Known { at, message } => (at, message),
            AtomError::AfterOperator { op, at } => {
                let (at, message) = explain_after_operator(atom, op, at);
                (at, message)
            }
            AtomError::Unmatched => explain(atom),
        }
    }
}

/// Parse a whole constraint. With `detailed` false the error carries no text (for callers
/// that only need to know that the constraint is invalid).
pub(crate) fn parse_constraint(input: &str, detailed: bool) -> Result<Set, ParseError> {
    parse_constraint_with(input, detailed, &mut parse_atom)
}

/// One AND atom's set, or why it is invalid: [`parse_atom`], or a cache in front of it.
pub(crate) type AtomResult = Result<Set, AtomError>;

/// [`parse_constraint`] with the atoms' sets taken from `atoms` (which must answer as
/// [`parse_atom`] does; [`crate::Checker`] remembers them).
pub(crate) fn parse_constraint_with(
    input: &str,
    detailed: bool,
    atoms: &mut impl FnMut(&str) -> AtomResult,
) -> Result<Set, ParseError> {
    if input == "*" {
        return Ok(Set::Range(Range::any()));
    }
    let fail = |byte: usize, message: String| ParseError {
        input: if detailed {
            input.to_owned()
        } else {
            String::new()
        },
        message,
        byte,
    };
    let offset_of = |s: &str| s.as_ptr() as usize - input.as_ptr() as usize;
    let broken = |byte: usize, b: Broken| {
        fail(
            byte,
            format!(
                "poetry-core fails on this combination ({}), so it is refused here too",
                b.0
            ),
        )
    };
    let stripped = input.trim_matches(is_py_space);
    if stripped.is_empty() {
        return Err(fail(0, "expected a constraint, found nothing".into()));
    }
    let mut groups = crate::algebra::Pieces::new();
    for (piece, separator) in split_or(stripped) {
        let piece = piece.trim_end_matches(',').trim_end_matches(is_py_space);
        if piece.is_empty() {
            let message = match separator {
                Some(sep) => format!("expected a constraint before {sep:?}"),
                None => "expected a constraint after the last \"|\"".into(),
            };
            return Err(fail(offset_of(piece), message));
        }
        let mut group: Option<Set> = None;
        for atom in split_and(piece) {
            let set = atoms(atom).map_err(|e| {
                if !detailed {
                    return fail(offset_of(atom), String::new());
                }
                let (at, message) = e.describe(atom);
                fail(offset_of(atom) + at, message)
            })?;
            group = Some(match group {
                None => set,
                Some(g) => g.intersect(&set).map_err(|b| broken(offset_of(atom), b))?,
            });
        }
        groups.push(group.expect("a non-empty piece has at least one atom"));
    }
    if groups.len() == 1 {
        return Ok(groups.pop().expect("one group"));
    }
    union_of(groups).map_err(|b| broken(0, b))
}

/// `re.split(r"\s*\|\|?\s*", s)`, with the separator that ended each piece.
fn split_or(s: &str) -> SmallVec<[(&str, Option<&str>); 4]> {
    let mut out = SmallVec::new();
    let mut start = 0;
    let mut search = 0;
    while let Some(rel) = s.as_bytes()[search..].iter().position(|&b| b == b'|') {
        let bar = search + rel;
        // The match begins where the run of whitespace right before the bar begins.
        let before = &s[search..bar];
        let match_start = search + before.trim_end_matches(is_py_space).len();
        let mut end = bar + 1;
        if s[end..].starts_with('|') {
            end += 1;
        }
        let sep = &s[bar..end];
        end += s[end..].len() - s[end..].trim_start_matches(is_py_space).len();
        out.push((&s[start..match_start], Some(sep)));
        start = end;
        search = end;
    }
    out.push((&s[start..], None));
    out
}

/// Python's `$` without MULTILINE: the end, or just before a final newline.
fn at_dollar(rest: &str) -> bool {
    rest.is_empty() || rest == "\n"
}

/// `re.split(r"(?<!^)(?<![\^~=>< ,]) *(?<!-)[, ](?!-) *(?!,|$)", piece)`.
///
/// Every character the pattern looks at is ASCII, and a UTF-8 continuation byte is never
/// ASCII, so matching on bytes gives the same split as Python does on code points.
fn split_and(piece: &str) -> SmallVec<[&str; 4]> {
    let b = piece.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied();
    let spaces_from = |i: usize| {
        b.get(i..)
            .map_or(0, |t| t.iter().take_while(|&&c| c == b' ').count())
    };
    let dollar_at = |i: usize| i == n || (i + 1 == n && b[i] == b'\n');

    // The first match starting at or after `from`, as byte positions [start, end).
    let find = |from: usize| -> Option<(usize, usize)> {
        for p in from.max(1)..n {
            // A match starts with ` *` or `[, ]`, so at a space or a comma.
            if !matches!(b[p], b' ' | b',')
                || matches!(b[p - 1], b'^' | b'~' | b'=' | b'>' | b'<' | b' ' | b',')
            {
                continue;
            }
            // ` *` is greedy: try the most spaces first, then fewer.
            for k in (0..=spaces_from(p)).rev() {
                let pos = p + k;
                if at(pos - 1) == Some(b'-') || !matches!(at(pos), Some(b',' | b' ')) {
                    continue;
                }
                if at(pos + 1) == Some(b'-') {
                    continue;
                }
                for m in (0..=spaces_from(pos + 1)).rev() {
                    let q = pos + 1 + m;
                    if at(q) != Some(b',') && !dollar_at(q) {
                        return Some((p, q));
                    }
                }
            }
        }
        None
    };

    let mut out = SmallVec::new();
    let mut start = 0;
    let mut from = 0;
    while let Some((p, q)) = find(from) {
        out.push(&piece[start..p]);
        start = q;
        from = q;
    }
    out.push(&piece[start..]);
    out
}

fn leading_space(s: &str) -> usize {
    s.len() - s.trim_start_matches(is_py_space).len()
}

/// Parse a version the constraint grammar matched, failing only like CPython's `int()`.
fn build(raw_text: &str, at: usize) -> Result<Version, AtomError> {
    Version::parse(raw_text).map_err(|_| {
        atom_err(
            at,
            format!("a number in the version has more than {MAX_DIGITS} digits"),
        )
    })
}

/// Build a version the grammar already matched (no second parse).
fn build_raw(raw: &RawVersion<'_>, text: &str, at: usize) -> Result<Version, AtomError> {
    raw.build(text).map_err(|_| {
        atom_err(
            at,
            format!("a number in the version has more than {MAX_DIGITS} digits"),
        )
    })
}

/// `VERSION_PATTERN` at the start of `s`, followed by Python's `$`: the version text and
/// what the grammar matched.
fn version_then_end(s: &str) -> Option<(&str, RawVersion<'_>)> {
    match version_pattern(s) {
        Ok((rest, raw)) if at_dollar(rest) => Some((&s[..s.len() - rest.len()], raw)),
        _ => None,
    }
}

pub(crate) fn parse_atom(atom: &str) -> AtomResult {
    if is_any(atom) {
        return Ok(Set::Range(Range::any()));
    }

    // Tilde `~V` (not `~=`), PEP 440 `~=V`, caret `^V`.
    let prefixed = if let Some(rest) = atom.strip_prefix("~=") {
        Some(("~=", rest))
    } else if let Some(rest) = atom.strip_prefix('~') {
        Some(("~", rest))
    } else {
        atom.strip_prefix('^').map(|rest| ("^", rest))
    };
    if let Some((op, rest)) = prefixed {
        let skip = leading_space(rest);
        let at = op.len() + skip;
        if let Some((text, raw)) = version_then_end(&rest[skip..]) {
            let version = build_raw(&raw, text, at)?;
            let high = match op {
                "~" => {
                    if version.precision() == 1 {
                        version.stable().next_major()
                    } else {
                        version.stable().next_minor()
                    }
                }
                "~=" => {
                    let stable = version.stable();
                    if stable.release.len() < 2 {
                        stable.next_major()
                    } else {
                        let mut parts = stable.release.clone();
                        let n = parts.len();
                        parts[n - 2] = parts[n - 2].succ();
                        parts[n - 1] = crate::num::Num::ZERO;
                        stable.with(parts)
                    }
                }
                _ => version.next_breaking(),
            };
            return Ok(Set::Range(Range::new(
                Some(Arc::new(version)),
                Some(Arc::new(canonical_strict_max(high))),
                true,
                false,
            )));
        }
        // `~` followed by `=` is only `~=`; anything else after these operators is an error.
        return Err(AtomError::AfterOperator { op, at });
    }

    if let Some(set) = x_range(atom)? {
        return Ok(set);
    }

    if let Some(set) = basic(atom)? {
        return Ok(set);
    }
    Err(AtomError::Unmatched)
}

/// `(?i)^v?[xX*](\.[xX*])*$`
fn is_any(atom: &str) -> bool {
    let s = atom.strip_prefix(['v', 'V']).unwrap_or(atom);
    let wild = |c: char| matches!(c, 'x' | 'X' | '*');
    let mut chars = s.chars();
    if !chars.next().is_some_and(wild) {
        return false;
    }
    let mut rest = chars.as_str();
    loop {
        if at_dollar(rest) {
            return true;
        }
        let mut c = rest.chars();
        if c.next() == Some('.') && c.next().is_some_and(wild) {
            rest = c.as_str();
        } else {
            return false;
        }
    }
}

/// `^(?P<op>!=|==)?\s*v?(?P<version>(\d+)(?:\.(\d+))?(?:\.(\d+))?)(?:\.\*)+$`
///
/// Python's `\d` also matches non-ASCII digits, but such a version then fails to parse, and
/// so would every later branch: treating `\d` as ASCII gives the same answer.
fn x_range(atom: &str) -> Result<Option<Set>, AtomError> {
    // The pattern ends in `.*` then Python's `$`: most atoms are ruled out at once.
    if !atom.strip_suffix('\n').unwrap_or(atom).ends_with(".*") {
        return Ok(None);
    }
    let (invert, rest) = if let Some(r) = atom.strip_prefix("!=") {
        (true, r)
    } else if let Some(r) = atom.strip_prefix("==") {
        (false, r)
    } else {
        (false, atom)
    };
    let skip = leading_space(rest);
    let body = &rest[skip..];
    let body = body.strip_prefix('v').unwrap_or(body);
    let at = atom.len() - body.len();
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let mut len = digits(body);
    if len == 0 {
        return Ok(None);
    }
    for _ in 0..2 {
        let tail = &body[len..];
        if tail.starts_with('.') && digits(&tail[1..]) > 0 {
            len += 1 + digits(&tail[1..]);
        } else {
            break;
        }
    }
    let mut tail = &body[len..];
    let mut stars = 0;
    while let Some(t) = tail.strip_prefix(".*") {
        tail = t;
        stars += 1;
    }
    if stars == 0 || !at_dollar(tail) {
        return Ok(None);
    }
    let version = build(&body[..len], at)?;
    x_constraint(&version, invert)
        .map(Some)
        .map_err(|b| atom_err(0, b.0))
}

/// `_make_x_constraint_range`: `V.*` is `[V.dev0, next.dev0)`.
fn x_constraint(version: &Version, invert: bool) -> Result<Set, Broken> {
    let next = if version.is_postrelease() {
        version.next_postrelease()
    } else if version.is_stable() {
        version.next_stable()
    } else if version.is_prerelease() {
        version.next_prerelease()
    } else {
        version.next_devrelease()
    };
    let min = version.first_devrelease();
    let max = if next.is_devrelease() {
        next
    } else {
        next.first_devrelease()
    };
    let range = Set::Range(Range::new(
        Some(Arc::new(min)),
        Some(Arc::new(max)),
        true,
        false,
    ));
    if invert {
        Set::Range(Range::any()).difference(&range)
    } else {
        Ok(range)
    }
}

/// `<V` excludes V's pre-releases: for a stable V the bound is `V.dev0`.
fn canonical_strict_max(v: Version) -> Version {
    if v.is_unstable() {
        v
    } else {
        v.first_devrelease()
    }
}

const BASIC_OPS: [&str; 8] = ["<>", "!=", ">=", ">", "<=", "<", "==", "="];

/// `^(?P<op><>|!=|>=?|<=?|==?)?\s*(?P<version>VERSION_PATTERN|dev)(?P<wildcard>\.\*)?$`
fn basic(atom: &str) -> Result<Option<Set>, AtomError> {
    let candidates = BASIC_OPS
        .iter()
        .filter(|op| atom.starts_with(**op))
        .copied()
        .chain(std::iter::once(""));
    for op in candidates {
        let rest = &atom[op.len()..];
        let skip = leading_space(rest);
        let body = &rest[skip..];
        let at = op.len() + skip;
        let tail_ok = |tail: &str| -> Option<bool> {
            if let Some(t) = tail.strip_prefix(".*") {
                if at_dollar(t) {
                    return Some(true);
                }
            }
            at_dollar(tail).then_some(false)
        };
        let matched = match version_pattern(body) {
            Ok((tail, raw)) => {
                tail_ok(tail).map(|w| (&body[..body.len() - tail.len()], w, Some(raw)))
            }
            Err(_) => None,
        };
        let matched = matched.or_else(|| {
            let is_dev = body.len() >= 3 && body.as_bytes()[..3].eq_ignore_ascii_case(b"dev");
            if is_dev {
                tail_ok(&body[3..]).map(|w| (&body[..3], w, None))
            } else {
                None
            }
        });
        let Some((text, wildcard, raw)) = matched else {
            continue;
        };
        // The grammar's match is the version (no second parse of the same text).
        let version = match raw {
            Some(raw) => build_raw(&raw, text, at)?,
            None if text == "dev" => build("0.0-dev", at)?,
            None => {
                return Err(atom_err(
                    at,
                    format!("expected \"dev\" in lowercase, found {text:?}"),
                ))
            }
        };
        if wildcard && !matches!(op, "<" | "<=" | ">" | ">=") {
            let set = x_constraint(&version, op == "!=").map_err(|b| atom_err(0, b.0))?;
            return Ok(Some(set));
        }
        let version = Arc::new(version);
        let set = match op {
            "<" => Set::Range(Range::new(
                None,
                Some(Arc::new(canonical_strict_max(Arc::unwrap_or_clone(
                    version,
                )))),
                false,
                false,
            )),
            "<=" => Set::Range(Range::new(None, Some(version), false, true)),
            ">" => Set::Range(Range::new(Some(version), None, false, false)),
            ">=" => Set::Range(Range::new(Some(version), None, true, false)),
            // `!=V` is a raw union (not normalised), which `allows` inspects.
            "!=" => Set::Union(vec![
                Set::Range(Range::new(None, Some(version.clone()), false, false)),
                Set::Range(Range::new(Some(version), None, false, false)),
            ]),
            // `==`, `=`, `<>` (sic: poetry-core reads it as equality) and no operator.
            _ => Set::Version(version),
        };
        return Ok(Some(set));
    }
    Ok(None)
}

/// Why an atom after `~`, `~=` or `^` did not parse.
fn explain_after_operator(atom: &str, op: &str, at: usize) -> (usize, String) {
    diagnose(
        atom,
        op,
        at,
        format!("a wildcard \".*\" cannot follow {op:?}"),
    )
}

/// Why an atom matched no form at all.
fn explain(atom: &str) -> (usize, String) {
    let op = BASIC_OPS
        .iter()
        .find(|op| atom.starts_with(**op))
        .copied()
        .unwrap_or("");
    let at = op.len() + leading_space(&atom[op.len()..]);
    diagnose(atom, op, at, "only one \".*\" may end a version".into())
}

/// The offset and message for an atom whose version part starts at `at`, after `op`
/// (empty for none); `wildcard` is the message for a `.*` where it may not stand.
fn diagnose(atom: &str, op: &str, at: usize, wildcard: String) -> (usize, String) {
    let rest = &atom[at..];
    let first = rest.chars().next().unwrap_or(' ');
    if rest.is_empty() {
        return (at, format!("expected a version after {op:?}"));
    }
    match version_pattern(rest) {
        Ok((tail, _)) => {
            let pos = atom.len() - tail.len();
            if tail.starts_with(".*") {
                (pos, wildcard)
            } else {
                let version = &rest[..rest.len() - tail.len()];
                let c = tail.chars().next().unwrap_or(' ');
                (
                    pos,
                    format!("unexpected {c:?} after the version {version:?}"),
                )
            }
        }
        Err(_) if op.is_empty() => (
            at,
            format!(
                "expected a version, an operator (== != < <= > >= ~ ~= ^) or \"*\", found {first:?}"
            ),
        ),
        Err(_) => (
            at,
            format!("expected a version after {op:?}, found {first:?}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_split_like_python() {
        let pieces = |s| split_or(s).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        assert_eq!(pieces("a"), ["a"]);
        assert_eq!(pieces("a || b"), ["a", "b"]);
        assert_eq!(pieces("a|b"), ["a", "b"]);
        assert_eq!(pieces("a ||| b"), ["a", "", "b"]);
        assert_eq!(pieces("a | | b"), ["a", "", "b"]);
        assert_eq!(pieces("a\u{a0}||\u{a0}b"), ["a", "b"]);
        assert_eq!(pieces("|| a"), ["", "a"]);
    }

    #[test]
    fn and_split_like_python() {
        for (s, want) in [
            (">=1.0,<2.0", vec![">=1.0", "<2.0"]),
            (">=1.0 <2.0", vec![">=1.0", "<2.0"]),
            (">= 1.0 ,< 2.0", vec![">= 1.0", "< 2.0"]),
            (">=1.0  ,  <2.0", vec![">=1.0", "<2.0"]),
            (">=1.0,,<2.0", vec![">=1.0,,<2.0"]),
            ("1.0 - 2.0", vec!["1.0 - 2.0"]),
            ("1.0 -2.0", vec!["1.0 -2.0"]),
            ("> = 1.0", vec!["> = 1.0"]),
            (">=1.0\u{a0}<2.0", vec![">=1.0\u{a0}<2.0"]),
            ("1.0\n 2.0", vec!["1.0\n", "2.0"]),
            ("a b c", vec!["a", "b", "c"]),
        ] {
            assert_eq!(split_and(s).as_slice(), want, "{s:?}");
        }
    }
}
