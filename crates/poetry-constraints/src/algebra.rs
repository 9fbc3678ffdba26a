//! Version sets as poetry-core builds them: a single version, a range, a union of disjoint
//! ranges, or nothing, with the same set operations.
//!
//! This is a port of poetry-core 2.5.0's `Version`/`VersionRange`/`VersionUnion`/
//! `EmptyConstraint` algebra, method by method, because `allows` depends on its details: the
//! special handling of local and post releases in bounds, raw `!=` unions, and the lone-`!=V`
//! rule that inverts a union to decide membership. Python's `a == b` on optional bounds is
//! [`opt_eq`] (two `None`s are equal).

use std::cmp::Ordering;

use std::sync::Arc;

use crate::version::{Version, View};

/// Versions are shared between pieces: cloning a bound is a reference-count increment.
pub(crate) type V = Arc<Version>;

/// poetry-core asserts invariants its own operations can break (e.g. intersecting an empty
/// range `>=1.0a0.dev0,<1.0a0.dev0` with another range). Python then raises
/// `AssertionError`, which makes the constraint unparsable; we return this instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Broken(pub &'static str);

pub(crate) type R<T> = Result<T, Broken>;

/// A set of versions.
#[derive(Clone, Debug)]
pub(crate) enum Set {
    /// No version.
    Empty,
    /// Exactly one version (and its local variants, if it has no local label).
    Version(V),
    /// An interval; unbounded on a side whose bound is `None`.
    Range(Range),
    /// Disjoint pieces (each a `Version` or a `Range`), sorted.
    Union(Vec<Set>),
}

/// An interval of versions.
#[derive(Clone, Debug)]
pub(crate) struct Range {
    pub min: Option<V>,
    pub max: Option<V>,
    pub include_min: bool,
    pub include_max: bool,
}

fn opt_eq(a: Option<&V>, b: Option<&V>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

impl Range {
    pub(crate) fn new(
        min: Option<V>,
        max: Option<V>,
        include_min: bool,
        include_max: bool,
    ) -> Range {
        Range {
            min,
            max,
            include_min,
            include_max,
        }
    }

    pub(crate) fn any() -> Range {
        Range::new(None, None, false, false)
    }

    fn is_empty(&self) -> bool {
        match (&self.min, &self.max) {
            (Some(min), Some(max)) => {
                if min == max {
                    !(self.include_min && self.include_max)
                } else {
                    min > max
                }
            }
            _ => false,
        }
    }

    fn is_any(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }

    fn allows(&self, other: &Version) -> bool {
        if let Some(min) = &self.min {
            let mut o = View::of(other);
            if !self.include_min && !min.is_postrelease() && o.is_postrelease() {
                o = o.without_postrelease();
            }
            if !min.is_local() && o.is_local() {
                o = o.without_local();
            }
            match o.cmp(&View::of(min)) {
                Ordering::Less => return false,
                Ordering::Equal if !self.include_min => return false,
                _ => {}
            }
        }
        if let Some(max) = &self.max {
            let mut o = View::of(other);
            if !max.is_local() && o.is_local() {
                o = o.without_local();
            }
            match o.cmp(&View::of(max)) {
                Ordering::Greater => return false,
                Ordering::Equal if !self.include_max => return false,
                _ => {}
            }
        }
        true
    }
}

/// `_range_or_empty`: a range, or nothing if it is empty.
fn range_or_empty(min: Option<V>, max: Option<V>, include_min: bool, include_max: bool) -> Set {
    let r = Range::new(min, max, include_min, include_max);
    if r.is_empty() {
        Set::Empty
    } else {
        Set::Range(r)
    }
}

// Bounds of a "range constraint" (a Version is the range [v, v]).
impl Set {
    fn min(&self) -> Option<&V> {
        match self {
            Set::Version(v) => Some(v),
            Set::Range(r) => r.min.as_ref(),
            _ => None,
        }
    }

    fn max(&self) -> Option<&V> {
        match self {
            Set::Version(v) => Some(v),
            Set::Range(r) => r.max.as_ref(),
            _ => None,
        }
    }

    fn include_min(&self) -> bool {
        match self {
            Set::Version(_) => true,
            Set::Range(r) => r.include_min,
            _ => false,
        }
    }

    fn include_max(&self) -> bool {
        match self {
            Set::Version(_) => true,
            Set::Range(r) => r.include_max,
            _ => false,
        }
    }

    fn is_range_like(&self) -> bool {
        matches!(self, Set::Version(_) | Set::Range(_))
    }

    fn allows_lower(&self, other: &Set) -> bool {
        match (self.min(), other.min()) {
            (None, o) => o.is_some(),
            (_, None) => false,
            (Some(a), Some(b)) => match a.cmp(b) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => self.include_min() && !other.include_min(),
            },
        }
    }

    fn allows_higher(&self, other: &Set) -> bool {
        match (self.max(), other.max()) {
            (None, o) => o.is_some(),
            (_, None) => false,
            (Some(a), Some(b)) => match a.cmp(b) {
                Ordering::Less => false,
                Ordering::Greater => true,
                Ordering::Equal => self.include_max() && !other.include_max(),
            },
        }
    }

    fn is_strictly_lower(&self, other: &Set) -> bool {
        match (self.max(), other.min()) {
            (Some(a), Some(b)) => match a.cmp(b) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => !(self.include_max() && other.include_min()),
            },
            _ => false,
        }
    }

    fn is_strictly_higher(&self, other: &Set) -> bool {
        other.is_strictly_lower(self)
    }

    fn is_adjacent_to(&self, other: &Set) -> bool {
        if !opt_eq(self.max(), other.min()) {
            return false;
        }
        (self.include_max() && !other.include_min()) || (!self.include_max() && other.include_min())
    }

    /// `VersionRange._cmp`, the order `VersionUnion.of` sorts pieces in.
    fn cmp_ranges(&self, other: &Set) -> Ordering {
        let Some(a) = self.min() else {
            return if other.min().is_none() {
                self.compare_max(other)
            } else {
                Ordering::Less
            };
        };
        let Some(b) = other.min() else {
            return Ordering::Greater;
        };
        match a.cmp(b) {
            Ordering::Equal => {}
            o => return o,
        }
        if self.include_min() != other.include_min() {
            return if self.include_min() {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        self.compare_max(other)
    }

    fn compare_max(&self, other: &Set) -> Ordering {
        let Some(a) = self.max() else {
            return if other.max().is_none() {
                Ordering::Equal
            } else {
                Ordering::Greater
            };
        };
        let Some(b) = other.max() else {
            return Ordering::Less;
        };
        match a.cmp(b) {
            Ordering::Equal => {}
            o => return o,
        }
        if self.include_max() != other.include_max() {
            return if self.include_max() {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        Ordering::Equal
    }
}

/// Union pieces: a few live inline, without an allocation.
pub(crate) type Pieces = smallvec::SmallVec<[Set; 4]>;

/// `VersionUnion.of`: drop empties, flatten, sort, merge touching pieces.
pub(crate) fn union_of(items: impl IntoIterator<Item = Set>) -> R<Set> {
    let mut flat = Pieces::new();
    for c in items {
        if c.is_empty() {
            continue;
        }
        match c {
            Set::Union(rs) => flat.extend(rs),
            other => flat.push(other),
        }
    }
    if flat.is_empty() {
        return Ok(Set::Empty);
    }
    if flat.iter().any(Set::is_any) {
        return Ok(Set::Range(Range::any()));
    }
    flat.sort_by(|a, b| a.cmp_ranges(b));
    // Merge in place: `flat[..kept]` are the merged pieces so far.
    let mut kept = 0;
    for i in 0..flat.len() {
        let merge = kept > 0 && {
            let (last, c) = (&flat[kept - 1], &flat[i]);
            last.allows_any(c)? || last.is_adjacent_to(c)
        };
        if merge {
            let joined = flat[kept - 1].union(&flat[i])?;
            if !joined.is_range_like() {
                return Err(Broken(
                    "VersionUnion.of: merging two pieces did not give a range",
                ));
            }
            flat[kept - 1] = joined;
        } else {
            flat.swap(kept, i);
            kept += 1;
        }
    }
    flat.truncate(kept);
    Ok(if kept == 1 {
        flat.pop().expect("one element")
    } else {
        Set::Union(flat.into_vec())
    })
}

impl Set {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Set::Empty => true,
            Set::Range(r) => r.is_empty(),
            Set::Version(_) | Set::Union(_) => false,
        }
    }

    pub(crate) fn is_any(&self) -> bool {
        matches!(self, Set::Range(r) if r.is_any())
    }

    /// The pieces of the set, borrowed (poetry-core's `flatten`, without copying).
    fn pieces(&self) -> &[Set] {
        match self {
            Set::Empty => &[],
            Set::Union(rs) => rs,
            other => std::slice::from_ref(other),
        }
    }

    /// For a union that is "everything but one version": that version (poetry-core's
    /// `excludes_single_version`). Only unions can be; computed once per constraint.
    pub(crate) fn excluded_single_version(&self) -> R<Option<V>> {
        let Set::Union(pieces) = self else {
            return Ok(None);
        };
        if excludes_more_than_one_version(pieces) {
            debug_assert!(
                matches!(self.inverse(), Ok(ref inverse) if !matches!(inverse, Set::Version(_))),
                "excludes_more_than_one_version is wrong for {self:?}"
            );
            return Ok(None);
        }
        Ok(match self.inverse()? {
            Set::Version(v) => Some(v),
            _ => None,
        })
    }

    /// poetry-core's `_inverted`: everything minus the set.
    fn inverse(&self) -> R<Set> {
        Set::Range(Range::any()).difference(self)
    }

    /// Is `version` in the set? `excluded` is [`Set::excluded_single_version`] of `self`.
    pub(crate) fn allows_with(&self, version: &Version, excluded: Option<&Version>) -> bool {
        match self {
            Set::Empty => false,
            Set::Version(v) => version_allows(v, version),
            Set::Range(r) => r.allows(version),
            Set::Union(rs) => match excluded {
                // Only that version and its local variants are out.
                Some(x) => !version_allows(x, version),
                None => rs.iter().any(|r| r.allows_with(version, None)),
            },
        }
    }

    fn allows_all(&self, other: &Set) -> bool {
        match self {
            Set::Empty => other.is_empty(),
            Set::Version(v) => {
                other.is_empty()
                    || match other {
                        Set::Version(o) => version_allows(v, o),
                        // `other == self` for a range: a closed range [v, v].
                        Set::Range(r) => {
                            opt_eq(r.min.as_ref(), Some(v))
                                && opt_eq(r.max.as_ref(), Some(v))
                                && r.include_min
                                && r.include_max
                        }
                        _ => false,
                    }
            }
            Set::Range(r) => {
                if other.is_empty() {
                    return true;
                }
                match other {
                    Set::Version(o) => {
                        if !r.allows(o) {
                            return false;
                        }
                        if o.is_local() {
                            return true;
                        }
                        !matches!(&r.max, Some(max) if max.is_local() && max.without_local() == **o)
                    }
                    Set::Union(rs) => rs.iter().all(|x| self.allows_all(x)),
                    _ => !other.allows_lower(self) && !other.allows_higher(self),
                }
            }
            Set::Union(ours) => {
                let theirs = other.pieces();
                let (mut i, mut j) = (0, 0);
                while i < ours.len() && j < theirs.len() {
                    if ours[i].allows_all(&theirs[j]) {
                        j += 1;
                    } else {
                        i += 1;
                    }
                }
                j >= theirs.len()
            }
        }
    }

    fn allows_any(&self, other: &Set) -> R<bool> {
        Ok(match self {
            Set::Empty => false,
            Set::Version(_) => !self.intersect(other)?.is_empty(),
            Set::Range(r) => {
                if other.is_empty() {
                    return Ok(false);
                }
                match other {
                    Set::Version(o) => {
                        r.allows(o)
                            || matches!(&r.min, Some(min) if min.is_local() && version_allows(o, min))
                    }
                    Set::Union(rs) => {
                        for x in rs {
                            if self.allows_any(x)? {
                                return Ok(true);
                            }
                        }
                        false
                    }
                    _ => !(other.is_strictly_lower(self) || other.is_strictly_higher(self)),
                }
            }
            Set::Union(ours) => {
                let theirs = other.pieces();
                let (mut i, mut j) = (0, 0);
                while i < ours.len() && j < theirs.len() {
                    if ours[i].allows_any(&theirs[j])? {
                        return Ok(true);
                    }
                    if theirs[j].allows_higher(&ours[i]) {
                        i += 1;
                    } else {
                        j += 1;
                    }
                }
                false
            }
        })
    }

    pub(crate) fn intersect(&self, other: &Set) -> R<Set> {
        match self {
            Set::Empty => Ok(Set::Empty),
            Set::Version(v) => match other {
                Set::Version(o) => Ok(if version_allows(v, o) {
                    other.clone()
                } else if version_allows(o, v) {
                    self.clone()
                } else {
                    Set::Empty
                }),
                _ => other.intersect(self),
            },
            Set::Range(r) => {
                if other.is_empty() {
                    return Ok(Set::Empty);
                }
                match other {
                    Set::Union(_) => other.intersect(self),
                    Set::Version(o) => {
                        if r.allows(o) {
                            return Ok(other.clone());
                        }
                        if let Some(min) = &r.min {
                            if min.is_local() && !o.is_local() && version_allows(o, min) {
                                let upper = o.stable().next_patch();
                                return Ok(range_or_empty(
                                    Some(min.clone()),
                                    Some(Arc::new(upper)),
                                    r.include_min,
                                    false,
                                ));
                            }
                        }
                        Ok(Set::Empty)
                    }
                    _ => {
                        let (imin, iinc_min) = if self.allows_lower(other) {
                            if self.is_strictly_lower(other) {
                                return Ok(Set::Empty);
                            }
                            (other.min().cloned(), other.include_min())
                        } else {
                            if other.is_strictly_lower(self) {
                                return Ok(Set::Empty);
                            }
                            (r.min.clone(), r.include_min)
                        };
                        let (imax, iinc_max) = if self.allows_higher(other) {
                            (other.max().cloned(), other.include_max())
                        } else {
                            (r.max.clone(), r.include_max)
                        };
                        if imin.is_none() && imax.is_none() {
                            return Ok(Set::Range(Range::any()));
                        }
                        if opt_eq(imin.as_ref(), imax.as_ref()) {
                            if !(iinc_min && iinc_max) {
                                return Err(Broken(
                                    "VersionRange.intersect: equal bounds that are not both inclusive",
                                ));
                            }
                            return Ok(Set::Version(imin.expect("equal bounds are present")));
                        }
                        Ok(range_or_empty(imin, imax, iinc_min, iinc_max))
                    }
                }
            }
            Set::Union(ours) => {
                let theirs = other.pieces();
                let mut new = Pieces::new();
                let (mut i, mut j) = (0, 0);
                while i < ours.len() && j < theirs.len() {
                    let x = ours[i].intersect(&theirs[j])?;
                    if !x.is_empty() {
                        new.push(x);
                    }
                    if theirs[j].allows_higher(&ours[i]) {
                        i += 1;
                    } else {
                        j += 1;
                    }
                }
                union_of(new)
            }
        }
    }

    pub(crate) fn union(&self, other: &Set) -> R<Set> {
        match self {
            Set::Empty => Ok(other.clone()),
            Set::Version(v) => match other {
                Set::Version(o) => {
                    if version_allows(o, v) {
                        Ok(other.clone())
                    } else if version_allows(v, o) {
                        Ok(self.clone())
                    } else {
                        union_of([self.clone(), other.clone()])
                    }
                }
                _ => other.union(self),
            },
            Set::Range(r) => match other {
                Set::Version(o) => range_union_version(r, o, self),
                Set::Range(_) => {
                    let edges_touch = (opt_eq(self.max(), other.min())
                        && (self.include_max() || other.include_min()))
                        || (opt_eq(self.min(), other.max())
                            && (self.include_min() || other.include_max()));
                    if !edges_touch && !self.allows_any(other)? {
                        return union_of([self.clone(), other.clone()]);
                    }
                    let (umin, uinc_min) = if self.allows_lower(other) {
                        (r.min.clone(), r.include_min)
                    } else {
                        (other.min().cloned(), other.include_min())
                    };
                    let (umax, uinc_max) = if self.allows_higher(other) {
                        (r.max.clone(), r.include_max)
                    } else {
                        (other.max().cloned(), other.include_max())
                    };
                    Ok(Set::Range(Range::new(umin, umax, uinc_min, uinc_max)))
                }
                _ => union_of([self.clone(), other.clone()]),
            },
            Set::Union(_) => union_of([self.clone(), other.clone()]),
        }
    }

    pub(crate) fn difference(&self, other: &Set) -> R<Set> {
        match self {
            Set::Empty => Ok(Set::Empty),
            Set::Version(v) => {
                if other.allows_all(self) {
                    return Ok(Set::Empty);
                }
                if other.allows_any(self)? {
                    let upper = if v.is_devrelease() {
                        v.next_devrelease()
                    } else {
                        v.next_postrelease()
                    };
                    return Set::Range(Range::new(
                        Some(v.clone()),
                        Some(Arc::new(upper)),
                        true,
                        false,
                    ))
                    .difference(other);
                }
                Ok(self.clone())
            }
            Set::Range(r) => range_difference(r, self, other),
            Set::Union(ours) => union_difference(ours, other),
        }
    }
}

/// Is a union's inverse (poetry-core's `VersionRange().difference(union)`) surely not a
/// single version, and surely computed without tripping an assertion? Then the inversion,
/// 10% of the work for a long constraint, can be skipped.
///
/// Only for a union where poetry-core's algebra is plain interval algebra: no bound carries a
/// local label or a post-release (`Version.allows` lets `1.0` match `1.0+x`, and a range
/// with an exclusive minimum `>1.0` refuses `1.0.post1`; with either, pieces can overlap and
/// gaps can vanish or merge into one version), and each piece lies wholly below the next.
/// Then the inverse is made of the gaps between the pieces, and it is one version only for
/// two pieces, the first unbounded below and the last unbounded above: with a first piece
/// bounded below (or a last piece bounded above) one gap is unbounded, and with three pieces
/// or more there are two gaps or more, separated by a piece. No merge of `VersionUnion.of`
/// fails on such pieces (its merge test and `union`'s agree on intervals).
///
/// Debug builds (the tests, the fuzzer) check every answer against the full computation;
/// `shortcut_agrees_with_the_inversion` runs it over thousands of unions, among them the
/// post-release and local-label ones that broke a wider rule.
fn excludes_more_than_one_version(pieces: &[Set]) -> bool {
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
        return false;
    };
    if pieces.len() < 3 && first.min().is_none() && last.max().is_none() {
        return false;
    }
    let plain = |v: Option<&V>| !v.is_some_and(|v| v.is_local() || v.is_postrelease());
    pieces.iter().all(|p| plain(p.min()) && plain(p.max()))
        && pieces.windows(2).all(|w| w[0].is_strictly_lower(&w[1]))
}

/// `Version.allows`: a version without a local label matches its local variants.
fn version_allows(this: &Version, other: &Version) -> bool {
    let mut o = View::of(other);
    if !this.is_local() && other.is_local() {
        o = o.without_local();
    }
    View::of(this).cmp(&o) == Ordering::Equal
}

fn range_union_version(r: &Range, o: &V, this: &Set) -> R<Set> {
    let mut new_min = r.min.clone();
    let mut new_inc_min = r.include_min;
    let mut new_max = r.max.clone();
    let mut new_inc_max = r.include_max;
    let mut broadened = false;
    if !o.is_local() {
        if let Some(min) = &r.min {
            if min.is_local() && version_allows(o, min) {
                new_min = Some(o.clone());
                new_inc_min = true;
                broadened = true;
            }
        }
        if let Some(max) = &r.max {
            if max.is_local() && version_allows(o, max) {
                new_max = Some(Arc::new(o.stable().next_patch()));
                new_inc_max = false;
                broadened = true;
            }
        }
    }
    if broadened {
        return Ok(range_or_empty(new_min, new_max, new_inc_min, new_inc_max));
    }
    if r.allows(o) {
        return Ok(this.clone());
    }
    if opt_eq(Some(o), r.min.as_ref()) {
        return Ok(Set::Range(Range::new(
            r.min.clone(),
            r.max.clone(),
            true,
            r.include_max,
        )));
    }
    if opt_eq(Some(o), r.max.as_ref()) {
        return Ok(Set::Range(Range::new(
            r.min.clone(),
            r.max.clone(),
            r.include_min,
            true,
        )));
    }
    union_of([this.clone(), Set::Version(o.clone())])
}

fn range_difference(r: &Range, this: &Set, other: &Set) -> R<Set> {
    if other.is_empty() {
        return Ok(this.clone());
    }
    match other {
        Set::Version(o) => {
            if !r.allows(o) {
                return Ok(this.clone());
            }
            if opt_eq(Some(o), r.min.as_ref()) {
                if !r.include_min {
                    return Ok(this.clone());
                }
                return Ok(range_or_empty(
                    r.min.clone(),
                    r.max.clone(),
                    false,
                    r.include_max,
                ));
            }
            if opt_eq(Some(o), r.max.as_ref()) {
                if !r.include_max {
                    return Ok(this.clone());
                }
                return Ok(range_or_empty(
                    r.min.clone(),
                    r.max.clone(),
                    r.include_min,
                    false,
                ));
            }
            union_of([
                range_or_empty(r.min.clone(), Some(o.clone()), r.include_min, false),
                range_or_empty(Some(o.clone()), r.max.clone(), false, r.include_max),
            ])
        }
        Set::Range(_) => {
            if !this.allows_any(other)? {
                return Ok(this.clone());
            }
            let before = if !this.allows_lower(other) {
                None
            } else if opt_eq(r.min.as_ref(), other.min()) {
                r.min.clone().map(Set::Version)
            } else {
                Some(range_or_empty(
                    r.min.clone(),
                    other.min().cloned(),
                    r.include_min,
                    !other.include_min(),
                ))
            };
            let after = if !this.allows_higher(other) {
                None
            } else if opt_eq(r.max.as_ref(), other.max()) {
                r.max.clone().map(Set::Version)
            } else {
                Some(range_or_empty(
                    other.max().cloned(),
                    r.max.clone(),
                    !other.include_max(),
                    r.include_max,
                ))
            };
            match (before, after) {
                (None, None) => Ok(Set::Empty),
                (None, Some(a)) => Ok(a),
                (Some(b), None) => Ok(b),
                (Some(b), Some(a)) => union_of([b, a]),
            }
        }
        Set::Union(theirs) => {
            let mut ranges = Pieces::new();
            let mut current = this.clone();
            for range in theirs {
                if range.is_strictly_lower(&current) {
                    continue;
                }
                if range.is_strictly_higher(&current) {
                    break;
                }
                let difference = current.difference(range)?;
                if difference.is_empty() {
                    return Ok(Set::Empty);
                }
                match difference {
                    Set::Union(mut parts) => {
                        let last = parts.pop().expect("a union has pieces");
                        ranges.push(parts.swap_remove(0));
                        current = last;
                    }
                    d => current = d,
                }
            }
            if ranges.is_empty() {
                return Ok(current);
            }
            ranges.push(current);
            union_of(ranges)
        }
        Set::Empty => Ok(this.clone()),
    }
}

/// `VersionUnion.difference`: walk both sorted piece lists.
fn union_difference(ours: &[Set], other: &Set) -> R<Set> {
    let theirs = other.pieces();
    let mut new = Pieces::new();
    let mut our_iter = ours.iter().cloned();
    let mut their_iter = theirs.iter();
    let mut current = our_iter.next().expect("a union has pieces");
    let mut their = their_iter.next();

    // Python's two helper closures return false when the walk is over: `break 'walk`.
    'walk: while let Some(th) = their {
        if th.is_strictly_lower(&current) {
            their = their_iter.next();
            if their.is_none() {
                new.push(current);
                new.extend(our_iter.by_ref());
                break 'walk;
            }
            continue;
        }
        if th.is_strictly_higher(&current) {
            new.push(current);
            match our_iter.next() {
                Some(n) => current = n,
                None => break 'walk,
            }
            continue;
        }
        let difference = current.difference(th)?;
        match difference {
            Set::Union(parts) => {
                if parts.len() != 2 {
                    return Err(Broken(
                        "VersionUnion.difference: a piece split in more than two",
                    ));
                }
                let mut parts = parts.into_iter();
                new.push(parts.next().expect("two pieces"));
                current = parts.next().expect("two pieces");
                their = their_iter.next();
                if their.is_none() {
                    new.push(current);
                    new.extend(our_iter.by_ref());
                    break 'walk;
                }
            }
            d if d.is_empty() => match our_iter.next() {
                Some(n) => current = n,
                None => break 'walk,
            },
            d => {
                if d.allows_higher(th) {
                    current = d;
                    their = their_iter.next();
                    if their.is_none() {
                        new.push(current);
                        new.extend(our_iter.by_ref());
                        break 'walk;
                    }
                } else {
                    new.push(d);
                    match our_iter.next() {
                        Some(n) => current = n,
                        None => break 'walk,
                    }
                }
            }
        }
    }
    match new.len() {
        0 => Ok(Set::Empty),
        1 => Ok(new.pop().expect("one")),
        _ => union_of(new),
    }
}

/// The order poetry-core sorts union pieces in (`VersionRange._cmp`).
pub(crate) fn cmp_pieces(a: &Set, b: &Set) -> Ordering {
    a.cmp_ranges(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `excludes_more_than_one_version` never claims a union whose inverse is one version or
    /// fails, over every union that ORs of one- and two-atom groups from a pool of bounds
    /// around the same few versions (with local, pre, post and dev labels) produce.
    #[test]
    fn shortcut_agrees_with_the_inversion() {
        // Each atom is a bound or a set around a few nearby versions.
        let atoms: Vec<&str> = concat!(
            "<1.0 >1.0 <=1.0 >=1.0 !=1.0 ==1.0 !=1.0+x <=1.0+x >1.0+x >=1.0.post1 ",
            ">1.0.post1 <=1.0.post1 <1.0a1 >=1.0a1 >1.0.dev0 !=1.* ==2.* ^1.0 ~1.1 <2.0 ",
            ">=2.0 !=2.0 <0.9 >=0.9 1.0+x !=0.9.post1 >2.0+x <3 !=1.0.post1 <1.0.post1.dev0 ",
            ">=1.0.dev0 ~=1.0 !=1.0.* ==1.0.post1.* <=2.0a1 1.0 1.0.post1 !=1.0.0 >1.0.0 ",
            "<1.0.0.0 >=1!0 <1.0rc1.post1 !=2.0.dev0 >0.9.dev0 <=0.9+y !=1.0+y ^0.9 ",
            "~0.9.post1 ",
        )
        .split_whitespace()
        .collect();
        let mut groups: Vec<String> = atoms.iter().map(|a| a.to_string()).collect();
        for a in &atoms {
            for b in &atoms {
                groups.push(format!("{a},{b}"));
            }
        }
        // A small deterministic generator (xorshift) picks 2-4 groups per constraint.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut unions, mut skipped, mut single) = (0, 0, 0);
        for _ in 0..40_000 {
            let k = 2 + next(3);
            let text = (0..k)
                .map(|_| groups[next(groups.len())].as_str())
                .collect::<Vec<_>>()
                .join(" || ");
            let Ok(set) = crate::parse::parse_constraint(&text, false) else {
                continue;
            };
            let Set::Union(pieces) = &set else { continue };
            unions += 1;
            let full = set.inverse();
            if matches!(full, Ok(Set::Version(_))) {
                single += 1;
            }
            if excludes_more_than_one_version(pieces) {
                skipped += 1;
                assert!(
                    matches!(&full, Ok(inverse) if !matches!(inverse, Set::Version(_))),
                    "{text}: shortcut taken, but the inverse is {full:?}"
                );
            }
        }
        // The pool must exercise both sides: unions the shortcut takes, and unions whose
        // inverse is one version (which it must not take).
        assert!(
            unions > 10_000 && skipped > 2_000 && single > 1_000,
            "{unions} unions, {skipped} shortcuts, {single} single exclusions"
        );
    }
}
