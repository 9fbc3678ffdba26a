//! The dependency model: what versions this charm ships, what they need, and which running
//! versions they can be upgraded from.
//!
//! The charm ships it as a JSON file (conventionally `versions.json` at the charm's root) with
//! exactly the shape of the reference library's `DEPENDENCIES` dict:
//!
//! ```json
//! {
//!   "workload": {
//!     "dependencies": {"database": "^3"},
//!     "name": "upgrade-reference-workload",
//!     "upgrade_supported": ">=1.0",
//!     "version": "1.1.0"
//!   }
//! }
//! ```
//!
//! Entries keep the file's order, which is also the order they are written to the peer
//! relation in (the reference writes its model in field-declaration order). Every constraint
//! must parse as a Poetry constraint and every `version` must satisfy its own
//! `upgrade_supported`, as the reference's pydantic validators require.

use std::fmt;

use poetry_constraints::{Constraint, Version};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::errors::VersionError;
use crate::wire::push_py_json_str;

/// An insertion-ordered string map with Python `dict` semantics for repeated keys (first
/// position, last value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> OrderedMap<V> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Inserts or replaces (keeping the first position).
    pub fn insert(&mut self, key: String, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = OrderedMap(Vec::new());
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

/// One entry of the model (the reference's `DependencyModel`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// Other applications (or components) this version needs: name -> Poetry constraint.
    pub dependencies: OrderedMap<String>,
    /// What the entry is (free text).
    pub name: String,
    /// Running versions an in-place upgrade to this one is supported from (Poetry constraint).
    pub upgrade_supported: String,
    /// The version this charm ships.
    pub version: String,
}

impl Dependency {
    /// The reference's `can_upgrade`: can a unit running `self` (the stored, old entry) be
    /// upgraded to `dependency` (the new one)? True when `self.version` satisfies the new
    /// entry's `upgrade_supported`. A version or constraint that does not parse (only
    /// possible in data written by something else) counts as not upgradable.
    pub fn can_upgrade(&self, dependency: &Dependency) -> bool {
        verify_requirements(&self.version, &dependency.upgrade_supported).unwrap_or(false)
    }
}

/// Why [`verify_requirements`] could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    /// The constraint is not a Poetry constraint.
    #[error("{0}")]
    Constraint(String),
    /// The version is not a PEP 440 version.
    #[error("{0}")]
    Version(String),
}

/// Does `version` satisfy the Poetry `requirement`? (The reference's `verify_requirements`.)
pub fn verify_requirements(version: &str, requirement: &str) -> Result<bool, RequirementError> {
    let constraint =
        Constraint::parse(requirement).map_err(|e| RequirementError::Constraint(e.to_string()))?;
    let version = Version::parse(version).map_err(|e| RequirementError::Version(e.to_string()))?;
    Ok(constraint.allows(&version))
}

/// A problem that makes a versions file invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelProblem {
    /// A constraint does not parse.
    BadConstraint {
        /// Entry key.
        key: String,
        /// `upgrade_supported` or `dependencies.<name>`.
        field: String,
        /// The parser's explanation.
        error: String,
    },
    /// `version` is not a PEP 440 version.
    BadVersion {
        /// Entry key.
        key: String,
        /// The parser's explanation.
        error: String,
    },
    /// `version` does not satisfy its own `upgrade_supported` (the reference's root validator).
    VersionNotSupported {
        /// Entry key.
        key: String,
        /// The entry's `name`.
        name: String,
        /// The entry's `version`.
        version: String,
        /// The entry's `upgrade_supported`.
        upgrade_supported: String,
    },
}

impl fmt::Display for ModelProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelProblem::BadConstraint { key, field, error } => {
                write!(f, "{key}.{field}: {error}")
            }
            ModelProblem::BadVersion { key, error } => write!(f, "{key}.version: {error}"),
            // The reference's validator message, verbatim.
            ModelProblem::VersionNotSupported {
                key,
                name,
                version,
                upgrade_supported,
            } => write!(
                f,
                "{key}: upgrade_supported value {upgrade_supported} greater than version value {version} for {name}."
            ),
        }
    }
}

/// A versions file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Not JSON of the expected shape.
    #[error("the versions file is not a valid dependency model: {0}")]
    Shape(String),
    /// Well-formed, but some entries are invalid.
    #[error("the versions file is invalid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ModelProblem>),
}

/// The charm's dependency model: named entries in declaration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyModel {
    entries: OrderedMap<Dependency>,
}

impl DependencyModel {
    /// Parses and validates a versions file (JSON). Unknown fields are refused, so a typo in
    /// a field name is an error here rather than a surprise mid-upgrade.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let entries: OrderedMap<Dependency> =
            serde_json::from_str(text).map_err(|e| ModelError::Shape(e.to_string()))?;
        Self::new(entries)
    }

    /// Validates entries built in code.
    pub fn new(entries: OrderedMap<Dependency>) -> Result<Self, ModelError> {
        let mut problems = Vec::new();
        for (key, dep) in entries.iter() {
            let mut constraints_ok = true;
            for (name, constraint) in dep.dependencies.iter() {
                if let Err(e) = Constraint::parse(constraint) {
                    constraints_ok = false;
                    problems.push(ModelProblem::BadConstraint {
                        key: key.to_owned(),
                        field: format!("dependencies.{name}"),
                        error: e.to_string(),
                    });
                }
            }
            let supported = match Constraint::parse(&dep.upgrade_supported) {
                Ok(c) => Some(c),
                Err(e) => {
                    problems.push(ModelProblem::BadConstraint {
                        key: key.to_owned(),
                        field: "upgrade_supported".into(),
                        error: e.to_string(),
                    });
                    None
                }
            };
            // pydantic skips the root validator when a field failed.
            let (Some(supported), true) = (supported, constraints_ok) else {
                continue;
            };
            match Version::parse(&dep.version) {
                Err(e) => problems.push(ModelProblem::BadVersion {
                    key: key.to_owned(),
                    error: e.to_string(),
                }),
                Ok(v) if !supported.allows(&v) => {
                    problems.push(ModelProblem::VersionNotSupported {
                        key: key.to_owned(),
                        name: dep.name.clone(),
                        version: dep.version.clone(),
                        upgrade_supported: dep.upgrade_supported.clone(),
                    })
                }
                Ok(_) => {}
            }
        }
        if problems.is_empty() {
            Ok(DependencyModel { entries })
        } else {
            Err(ModelError::Invalid(problems))
        }
    }

    /// Entries in declaration order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Dependency)> {
        self.entries.iter()
    }

    /// The entry named `key`.
    pub fn get(&self, key: &str) -> Option<&Dependency> {
        self.entries.get(key)
    }

    /// The model as the reference writes it to the `dependencies` key: Python
    /// `json.dumps(model.dict())`, byte for byte.
    pub fn to_wire(&self) -> String {
        let mut out = String::with_capacity(128 * self.entries.len().max(1));
        out.push('{');
        for (i, (key, dep)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_py_json_str(&mut out, key);
            out.push_str(": {\"dependencies\": {");
            for (j, (name, constraint)) in dep.dependencies.iter().enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                push_py_json_str(&mut out, name);
                out.push_str(": ");
                push_py_json_str(&mut out, constraint);
            }
            out.push_str("}, \"name\": ");
            push_py_json_str(&mut out, &dep.name);
            out.push_str(", \"upgrade_supported\": ");
            push_py_json_str(&mut out, &dep.upgrade_supported);
            out.push_str(", \"version\": ");
            push_py_json_str(&mut out, &dep.version);
            out.push('}');
        }
        out.push('}');
        out
    }

    /// The entries whose stored version does not satisfy this model's `upgrade_supported`,
    /// in declaration order: `(entry, stored version, constraint)`.
    pub fn incompatibilities<'a>(
        &'a self,
        stored: &'a StoredDependencies,
    ) -> Vec<(&'a str, &'a str, &'a str)> {
        self.entries
            .iter()
            .filter_map(|(key, new)| {
                let old = stored.version_of(key)?;
                (!verify_requirements(old, &new.upgrade_supported).unwrap_or(false)).then_some((
                    key,
                    old,
                    new.upgrade_supported.as_str(),
                ))
            })
            .collect()
    }

    /// The reference's `_upgrade_supported_check`: every entry of this (new) model whose
    /// stored version does not satisfy the new `upgrade_supported` is listed in one error, in
    /// declaration order, with the reference's exact message and cause. Entries the stored
    /// model does not know are skipped (see [`StoredDependencies`]).
    pub fn check_upgrade_from(&self, stored: &StoredDependencies) -> Result<(), VersionError> {
        let mut message = String::from("Versions incompatible");
        let mut cause = String::from("Upgrades only supported for specific versions");
        let mut compatible = true;
        for (key, new) in self.entries.iter() {
            let Some(old_version) = stored.version_of(key) else {
                continue;
            };
            if !verify_requirements(old_version, &new.upgrade_supported).unwrap_or(false) {
                compatible = false;
                // (A stored version is shown whole unless a peer wrote something absurd.)
                message.push_str(&format!(
                    ", {key} {} can not be upgraded to {}",
                    crate::wire::truncate(old_version, 100),
                    new.version
                ));
                cause.push_str(&format!(
                    ", {key} versions satisfying requirement {}",
                    new.upgrade_supported
                ));
            }
        }
        if compatible {
            Ok(())
        } else {
            Err(VersionError::new(message, cause))
        }
    }
}

/// At most this many unreadable stored entries are named one by one (the rest are counted),
/// so that a hostile value cannot flood the log.
const MAX_PROBLEMS: usize = 3;

/// The `dependencies` stored in the application bag by the previous charm revision (ours or
/// the Python library's), read leniently: the reference crashes when the value is missing,
/// malformed or lacks an entry its new model has. Here each entry's `version` is read on its
/// own; what cannot be read is reported in [`StoredDependencies::problems`] and left out of
/// the comparison (a new entry has nothing to be compared with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDependencies {
    /// Only looked up by key (a map, so that a hostile value with many entries stays linear).
    versions: std::collections::BTreeMap<String, String>,
    /// What could not be read, for the log.
    pub problems: Vec<String>,
}

impl StoredDependencies {
    /// Reads the stored `dependencies` value.
    pub fn parse(text: &str) -> Self {
        let mut out = StoredDependencies::default();
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                out.problems
                    .push(format!("stored dependencies are not JSON ({e})"));
                return out;
            }
        };
        let serde_json::Value::Object(map) = value else {
            out.problems
                .push("stored dependencies are not a JSON object".to_owned());
            return out;
        };
        let mut unreadable = 0usize;
        for (key, entry) in map {
            match entry.get("version") {
                Some(serde_json::Value::String(v)) => {
                    out.versions.insert(key, v.clone());
                }
                // pydantic 1 coerces numbers to text.
                Some(n @ serde_json::Value::Number(_)) => {
                    out.versions.insert(key, n.to_string());
                }
                _ => {
                    unreadable += 1;
                    if unreadable <= MAX_PROBLEMS {
                        out.problems.push(format!(
                            "stored entry {:?} has no readable version",
                            crate::wire::truncate(&key, 40)
                        ));
                    }
                }
            }
        }
        if unreadable > MAX_PROBLEMS {
            out.problems.push(format!(
                "{} more stored entries have no readable version",
                unreadable - MAX_PROBLEMS
            ));
        }
        out
    }

    /// The stored version of entry `key`.
    pub fn version_of(&self, key: &str) -> Option<&str> {
        self.versions.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GANDALF: &str = r#"{"gandalf_the_white": {"dependencies": {"gandalf_the_grey": ">5"}, "name": "gandalf", "upgrade_supported": ">1.2", "version": "7"}}"#;

    #[test]
    fn round_trips_the_reference_fixture_byte_for_byte() {
        let model = DependencyModel::from_json(GANDALF).unwrap();
        assert_eq!(model.to_wire(), GANDALF);
    }

    #[test]
    fn keeps_declaration_order_and_escapes_like_python() {
        let text = r#"{"z": {"version": "1.0", "upgrade_supported": "*", "name": "zé", "dependencies": {"b": "^1", "a": "~2"}},
                      "a": {"dependencies": {}, "name": "a", "upgrade_supported": ">=0", "version": "0.1"}}"#;
        let model = DependencyModel::from_json(text).unwrap();
        assert_eq!(
            model.to_wire(),
            r#"{"z": {"dependencies": {"b": "^1", "a": "~2"}, "name": "z\u00e9", "upgrade_supported": "*", "version": "1.0"}, "a": {"dependencies": {}, "name": "a", "upgrade_supported": ">=0", "version": "0.1"}}"#
        );
    }

    fn entry(deps: &[(&str, &str)], supported: &str, version: &str) -> String {
        let deps: Vec<String> = deps.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
        format!(
            r#"{{"gandalf_the_white": {{"dependencies": {{{}}}, "name": "gandalf", "upgrade_supported": {supported:?}, "version": {version:?}}}}}"#,
            deps.join(", ")
        )
    }

    #[test]
    fn validates_like_the_reference() {
        // own version must satisfy own upgrade_supported
        let err = DependencyModel::from_json(&entry(&[("gandalf_the_grey", ">5")], ">5", "4"))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("upgrade_supported value >5 greater than version value 4 for gandalf."),
            "{err}"
        );
        for bad in ["saruman", ""] {
            assert!(
                DependencyModel::from_json(&entry(&[("gandalf_the_grey", bad)], ">5", "7"))
                    .is_err()
            );
            assert!(
                DependencyModel::from_json(&entry(&[("a", "~1"), ("balrog", bad)], ">5", "7"))
                    .is_err()
            );
            assert!(DependencyModel::from_json(&entry(&[], bad, "7")).is_err());
        }
        assert!(DependencyModel::from_json(&entry(&[], "1.3", "7")).is_err());
        assert!(
            DependencyModel::from_json(&entry(&[("gandalf_the_grey", ">5")], ">1.2", "7")).is_ok()
        );
        assert!(DependencyModel::from_json(&entry(
            &[("gandalf_the_grey", "~1.0"), ("bilbo", "^1.2.5")],
            ">1.2",
            "7"
        ))
        .is_ok());
        assert!(matches!(
            DependencyModel::from_json("[1]"),
            Err(ModelError::Shape(_))
        ));
        assert!(matches!(
            DependencyModel::from_json(
                r#"{"a": {"dependencies": {}, "name": "a", "upgrade_supported": "*", "version": "1", "extra": 1}}"#
            ),
            Err(ModelError::Shape(_))
        ));
    }

    #[test]
    fn incompatibility_lists_every_key_with_the_reference_text() {
        let new =
            DependencyModel::from_json(&entry(&[("gandalf_the_grey", ">5")], ">1.2", "7")).unwrap();
        let stored =
            StoredDependencies::parse(&entry(&[("gandalf_the_grey", ">5")], "~0.2", "0.2.1"));
        let err = new.check_upgrade_from(&stored).unwrap_err();
        assert_eq!(
            err.message(),
            "Versions incompatible, gandalf_the_white 0.2.1 can not be upgraded to 7"
        );
        assert_eq!(err.cause(), "Upgrades only supported for specific versions, gandalf_the_white versions satisfying requirement >1.2");
        let ok = StoredDependencies::parse(&entry(&[("gandalf_the_grey", ">5")], ">1", "1.3"));
        assert!(new.check_upgrade_from(&ok).is_ok());

        let two = DependencyModel::from_json(r#"{"a": {"dependencies": {}, "name": "a", "upgrade_supported": ">2", "version": "3"}, "b": {"dependencies": {}, "name": "b", "upgrade_supported": "^5", "version": "5.1"}}"#).unwrap();
        let old = StoredDependencies::parse(r#"{"a": {"version": "1"}, "b": {"version": "4"}}"#);
        let err = two.check_upgrade_from(&old).unwrap_err();
        assert_eq!(
            err.message(),
            "Versions incompatible, a 1 can not be upgraded to 3, b 4 can not be upgraded to 5.1"
        );
        assert_eq!(err.cause(), "Upgrades only supported for specific versions, a versions satisfying requirement >2, b versions satisfying requirement ^5");
    }

    #[test]
    fn stored_dependencies_are_read_leniently() {
        assert_eq!(StoredDependencies::parse("{").problems.len(), 1);
        assert_eq!(StoredDependencies::parse("[]").problems.len(), 1);
        let s = StoredDependencies::parse(r#"{"a": {"version": 7}, "b": {}, "c": 3}"#);
        assert_eq!(s.version_of("a"), Some("7"));
        assert_eq!(s.version_of("b"), None);
        assert_eq!(s.problems.len(), 2);
    }
}
