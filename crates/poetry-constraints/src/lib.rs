//! Version constraints with the exact semantics of poetry-core 2.5.0's
//! `parse_constraint(constraint).allows(Version.parse(version))`, which the reference upgrade
//! library uses to decide whether an in-place upgrade is allowed.
//!
//! ```
//! use poetry_constraints::{Constraint, Version};
//!
//! let c = Constraint::parse(">=1.2, <2").unwrap();
//! assert!(c.allows(&Version::parse("1.9.post1").unwrap()));
//! assert!(!c.allows(&Version::parse("2.0a1").unwrap())); // `<2` excludes 2's pre-releases
//! assert_eq!(c.to_string(), ">=1.2,<2");
//!
//! let err = Constraint::parse(">=1.0,<").unwrap_err();
//! assert_eq!(err.to_string(), r#"invalid constraint ">=1.0,<": expected a version after "<" at byte 7"#);
//! ```
//!
//! Every input is either parsed or rejected with an error saying what was expected where;
//! nothing panics. See `shared/notes/poetry-constraints.md` for the grammar and its surprises.
#![warn(missing_docs)]

/// The examples of the crate's README, compiled (and run where they can) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod algebra;
mod display;
pub mod num;
mod parse;
mod table;
pub mod version;

use std::fmt;

pub use parse::ParseError;
pub use version::{Version, VersionError};

use table::TextTable;

/// A parsed version constraint.
#[derive(Clone, Debug)]
pub struct Constraint {
    set: algebra::Set,
    /// For a union: the one version it excludes, if that is all it does. `Err` if
    /// poetry-core's own computation of that fails (it would raise in `allows`).
    excluded: Result<Option<algebra::V>, algebra::Broken>,
}

impl Constraint {
    /// Parse a constraint as poetry-core's `parse_constraint` does.
    pub fn parse(input: &str) -> Result<Constraint, ParseError> {
        Self::parse_with(input, true)
    }

    fn parse_with(input: &str, detailed: bool) -> Result<Constraint, ParseError> {
        parse::parse_constraint(input, detailed).map(Constraint::from_set)
    }

    fn from_set(set: algebra::Set) -> Constraint {
        Constraint {
            excluded: set.excluded_single_version(),
            set,
        }
    }

    /// Does the constraint allow `version`?
    ///
    /// poetry-core can raise an `AssertionError` inside `allows` for a union whose inversion
    /// breaks one of its invariants; no such constraint is known (none in the corpora), and
    /// if one exists this returns `false`: the upgrade is not allowed.
    pub fn allows(&self, version: &Version) -> bool {
        match &self.excluded {
            Ok(excluded) => self.set.allows_with(version, excluded.as_deref()),
            Err(_) => false,
        }
    }

    /// Does it allow every version (`*`)?
    pub fn is_any(&self) -> bool {
        self.set.is_any()
    }

    /// Does it allow no version at all (e.g. `>2,<1`, which is valid)?
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

impl fmt::Display for Constraint {
    /// poetry-core's normalised text (`str(parse_constraint(...))`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display::fmt_set(&self.set, f)
    }
}

impl std::str::FromStr for Constraint {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Constraint, ParseError> {
        Constraint::parse(s)
    }
}

impl std::str::FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Version, VersionError> {
        Version::parse(s)
    }
}

/// The answer for one (constraint, version) pair, as the `allows --batch` command prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The constraint allows the version.
    True,
    /// It does not.
    False,
    /// The constraint does not parse (judged first).
    InvalidConstraint,
    /// The constraint parses, the version does not.
    InvalidVersion,
}

impl Verdict {
    /// The word printed for it: `true`, `false`, `invalid-constraint`, `invalid-version`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::True => "true",
            Verdict::False => "false",
            Verdict::InvalidConstraint => "invalid-constraint",
            Verdict::InvalidVersion => "invalid-version",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Judge one pair: the constraint first, then the version, then `allows`.
pub fn verdict(constraint: &str, version: &str) -> Verdict {
    let Ok(c) = Constraint::parse_with(constraint, false) else {
        return Verdict::InvalidConstraint;
    };
    let Ok(v) = Version::parse(version) else {
        return Verdict::InvalidVersion;
    };
    if c.allows(&v) {
        Verdict::True
    } else {
        Verdict::False
    }
}

/// Judges many pairs, parsing each distinct constraint and version text once, as
/// poetry-core does with `functools.cache` on `parse_constraint` and `Version.parse`; the
/// AND atoms of the constraints (`>=1.2` in `>=1.2,<2`) are remembered too, so a new
/// constraint made of known atoms only has its set algebra left to do (poetry-core's
/// `Version.parse` cache likewise serves the versions inside every constraint). For a
/// batch that repeats constraints (a CI pipeline checking every version it ships against a
/// few constraints) this is several times faster than [`verdict`]; the answers are the same.
///
/// Memory is bounded: each table holds at most `limit` texts and starts afresh when full.
///
/// ```
/// use poetry_constraints::{Checker, Verdict};
///
/// let mut checker = Checker::new();
/// assert_eq!(checker.verdict(">=1.2,<2", "1.9"), Verdict::True);
/// assert_eq!(checker.verdict(">=1.2,<2", "2.0"), Verdict::False); // constraint reused
/// assert_eq!(checker.verdict(">=1.2,<", "2.0"), Verdict::InvalidConstraint);
/// ```
#[derive(Debug)]
pub struct Checker {
    constraints: TextTable<Option<Constraint>>,
    /// The sets of the AND atoms (`>=1.2`), shared by the constraints that contain them,
    /// as poetry-core's cache on `Version.parse` is shared by every atom's version.
    atoms: TextTable<Option<algebra::Set>>,
    versions: TextTable<Option<Version>>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

impl Checker {
    /// A checker remembering up to 65,536 constraints, as many atoms and as many versions.
    pub fn new() -> Checker {
        Checker::with_limit(65_536)
    }

    /// A checker remembering up to `limit` texts of each kind (at least 1).
    pub fn with_limit(limit: usize) -> Checker {
        Checker {
            constraints: TextTable::new(limit),
            atoms: TextTable::new(limit),
            versions: TextTable::new(limit),
        }
    }

    /// Forget every parsed text.
    pub fn clear(&mut self) {
        self.constraints.clear();
        self.atoms.clear();
        self.versions.clear();
    }

    /// The same answer as [`verdict`]`(constraint, version)`.
    pub fn verdict(&mut self, constraint: &str, version: &str) -> Verdict {
        let atoms = &mut self.atoms;
        let c = self.constraints.get_or_insert_with(constraint, || {
            // An atom's error kind only matters for detailed messages, which a batch does
            // not give: a remembered invalid atom is `Unmatched`.
            let mut atom = |text: &str| {
                atoms
                    .get_or_insert_with(text, || parse::parse_atom(text).ok())
                    .clone()
                    .ok_or(parse::AtomError::Unmatched)
            };
            parse::parse_constraint_with(constraint, false, &mut atom)
                .ok()
                .map(Constraint::from_set)
        });
        let Some(c) = c else {
            return Verdict::InvalidConstraint;
        };
        let v = self
            .versions
            .get_or_insert_with(version, || Version::parse(version).ok());
        match v {
            None => Verdict::InvalidVersion,
            Some(v) if c.allows(v) => Verdict::True,
            Some(_) => Verdict::False,
        }
    }
}
