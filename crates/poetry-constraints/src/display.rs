//! poetry-core's text for a parsed constraint (`str(parse_constraint(...))`): ranges as
//! `>=1.0,<2.0`, wildcard ranges as `==1.2.*` / `!=1.2.*`, single-version holes as
//! `>=1,!=2,<3`, unions joined by ` || `.

use std::fmt::{self, Write};

use crate::algebra::{Range, Set};
use crate::version::Version;

/// `_is_canonical_strict_max`: `V.dev0` for a V without pre-release, the bound `<V` makes.
fn is_canonical_strict_max(v: &Version) -> bool {
    matches!(&v.dev, Some(d) if d.number.is_zero()) && !v.without_devrelease().is_unstable()
}

fn max_text(max: &Version, include_max: bool) -> String {
    if !include_max && is_canonical_strict_max(max) {
        max.without_devrelease().to_string()
    } else {
        max.to_string()
    }
}

/// Release components without trailing zeros.
fn stripped(v: &Version) -> crate::version::Release {
    let mut parts = v.release.clone();
    while parts.last().is_some_and(crate::num::Num::is_zero) {
        parts.pop();
    }
    parts
}

fn is_wildcard_candidate(min: &Version, max: &Version, inverted: bool) -> bool {
    if min.is_local()
        || max.is_local()
        || min.is_prerelease()
        || max.is_prerelease()
        || min.is_postrelease() != max.is_postrelease()
        || min.first_devrelease() != *min
        || (max.is_devrelease() && max.first_devrelease() != *max)
    {
        return false;
    }
    let (first, second) = if inverted { (max, min) } else { (min, max) };
    let second_parts = stripped(second);
    if second_parts.is_empty() {
        return false;
    }
    let mut first_parts = first.release.clone();
    while first_parts.len() < second_parts.len() {
        first_parts.push(crate::num::Num::ZERO);
    }
    if first_parts[second_parts.len()..]
        .iter()
        .any(|n| !n.is_zero())
    {
        return false;
    }
    first_parts.truncate(second_parts.len());
    if first.is_postrelease() {
        let next = first.post.as_ref().map(|p| (p.phase, p.number.succ()));
        let theirs = second.post.as_ref().map(|p| (p.phase, p.number.clone()));
        return first_parts == second_parts && next == theirs;
    }
    let n = second_parts.len();
    first_parts[..n - 1] == second_parts[..n - 1]
        && first_parts[n - 1].succ() == second_parts[n - 1]
}

fn wildcard_text(first: &Version, second: &Version) -> String {
    if first.is_postrelease() {
        return format!("{}.*", first.without_devrelease());
    }
    let mut parts = stripped(second);
    let last = parts.len() - 1;
    parts[last] = parts[last].pred().unwrap_or(crate::num::Num::ZERO);
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        let _ = write!(s, "{p}");
    }
    s.push_str(".*");
    s
}

fn range_text(r: &Range) -> String {
    if let (Some(min), Some(max)) = (&r.min, &r.max) {
        if r.include_min && !r.include_max && is_wildcard_candidate(min, max, false) {
            return format!("=={}", wildcard_text(min, max));
        }
    }
    let mut s = String::new();
    if let Some(min) = &r.min {
        let _ = write!(s, "{}{min}", if r.include_min { ">=" } else { ">" });
    }
    if let Some(max) = &r.max {
        if r.min.is_some() {
            s.push(',');
        }
        let op = if r.include_max { "<=" } else { "<" };
        let _ = write!(s, "{op}{}", max_text(max, r.include_max));
    }
    if r.min.is_none() && r.max.is_none() {
        return "*".into();
    }
    s
}

fn piece_text(p: &Set) -> String {
    match p {
        Set::Version(v) => v.to_string(),
        Set::Range(r) => range_text(r),
        other => set_text(other),
    }
}

fn bounds(p: &Set) -> (Option<&Version>, Option<&Version>, bool, bool) {
    match p {
        Set::Version(v) => (Some(v), Some(v), true, true),
        Set::Range(r) => (
            r.min.as_deref(),
            r.max.as_deref(),
            r.include_min,
            r.include_max,
        ),
        _ => (None, None, false, false),
    }
}

fn union_text(ranges: &[Set]) -> String {
    // `!=V.*`: exactly `<A || >=B` where the hole is one wildcard range.
    if ranges.len() == 2 {
        let (one, two) = if bounds(&ranges[0]).1.is_some() {
            (&ranges[0], &ranges[1])
        } else {
            (&ranges[1], &ranges[0])
        };
        let (one_min, one_max, _, one_inc_max) = bounds(one);
        let (two_min, two_max, two_inc_min, _) = bounds(two);
        if let (Some(one_max), None, false, Some(two_min), true, None) =
            (one_max, one_min, one_inc_max, two_min, two_inc_min, two_max)
        {
            if is_wildcard_candidate(two_min, one_max, true) {
                return format!("!={}", wildcard_text(one_max, two_min));
            }
        }
    }
    // Runs of pieces separated by single-version holes render as `>=A,!=V1,!=V2,<B`.
    let mut groups: Vec<Vec<&Set>> = Vec::new();
    for p in ranges {
        let joins = groups.last().and_then(|g| g.last()).is_some_and(|prev| {
            let (_, prev_max, _, prev_inc_max) = bounds(prev);
            let (cur_min, _, cur_inc_min, _) = bounds(p);
            matches!((prev_max, cur_min), (Some(a), Some(b)) if a == b)
                && !prev_inc_max
                && !cur_inc_min
        });
        if joins {
            groups.last_mut().expect("a group").push(p);
        } else {
            groups.push(vec![p]);
        }
    }
    let rendered: Vec<String> = groups
        .iter()
        .map(|g| {
            if g.len() == 1 {
                return piece_text(g[0]);
            }
            let mut parts = Vec::new();
            let (first_min, _, first_inc_min, _) = bounds(g[0]);
            if let Some(min) = first_min {
                parts.push(format!("{}{min}", if first_inc_min { ">=" } else { ">" }));
            }
            for r in &g[..g.len() - 1] {
                if let Some(max) = bounds(r).1 {
                    parts.push(format!("!={max}"));
                }
            }
            let (_, last_max, _, last_inc_max) = bounds(g[g.len() - 1]);
            if let Some(max) = last_max {
                let op = if last_inc_max { "<=" } else { "<" };
                parts.push(format!("{op}{}", max_text(max, last_inc_max)));
            }
            parts.join(",")
        })
        .collect();
    rendered.join(" || ")
}

pub(crate) fn set_text(s: &Set) -> String {
    match s {
        Set::Empty => "<empty>".into(),
        Set::Version(v) => v.to_string(),
        Set::Range(r) => range_text(r),
        Set::Union(rs) => {
            let mut sorted = rs.clone();
            sorted.sort_by(crate::algebra::cmp_pieces);
            union_text(&sorted)
        }
    }
}

pub(crate) fn fmt_set(s: &Set, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(&set_text(s))
}
