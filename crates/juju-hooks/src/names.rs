//! Validated names Juju hands a charm: unit names, relation ids, Juju versions.
//!
//! Everything here is parsed from untrusted text (environment variables, hook-tool output,
//! relation data), so every constructor returns a [`NameError`] instead of assuming.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A name that did not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is malformed: {reason}")]
pub struct NameError {
    /// What kind of name was expected (`unit name`, `relation id`, ...).
    pub what: &'static str,
    /// The text that was given.
    pub value: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl NameError {
    fn new(what: &'static str, value: &str, reason: &'static str) -> Self {
        NameError {
            what,
            value: value.to_owned(),
            reason,
        }
    }
}

/// Is `s` a valid Juju application name (`^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$`)?
///
/// Juju requires every hyphen-separated part after the first to contain a letter, so that
/// `app-1` can never be mistaken for a unit name.
pub fn is_valid_app_name(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    let first_ok = first.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && first
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    first_ok
        && parts.all(|p| {
            p.bytes().any(|b| b.is_ascii_lowercase())
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A unit name, `<application>/<number>`, e.g. `db/3`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitName {
    app: String,
    number: u32,
}

impl UnitName {
    /// Build a unit name from its parts; the application name must be valid.
    pub fn new(app: &str, number: u32) -> Result<Self, NameError> {
        if !is_valid_app_name(app) {
            return Err(NameError::new(
                "application name",
                app,
                "expected lowercase letters, digits and hyphens, starting with a letter",
            ));
        }
        Ok(UnitName {
            app: app.to_owned(),
            number,
        })
    }

    /// The application part.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The unit number (the Kubernetes pod ordinal on Kubernetes).
    pub fn number(&self) -> u32 {
        self.number
    }
}

impl FromStr for UnitName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        let (app, num) = s
            .split_once('/')
            .ok_or_else(|| NameError::new("unit name", s, "expected <application>/<number>"))?;
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NameError::new(
                "unit name",
                s,
                "the part after '/' must be a decimal unit number",
            ));
        }
        if num.len() > 1 && num.starts_with('0') {
            return Err(NameError::new(
                "unit name",
                s,
                "the unit number must not have leading zeros",
            ));
        }
        let number = num
            .parse::<u32>()
            .map_err(|_| NameError::new("unit name", s, "the unit number is too large"))?;
        if !is_valid_app_name(app) {
            return Err(NameError::new(
                "unit name",
                s,
                "the application part must be lowercase letters, digits and hyphens, starting with a letter",
            ));
        }
        Ok(UnitName {
            app: app.to_owned(),
            number,
        })
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app, self.number)
    }
}

impl Serialize for UnitName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UnitName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A relation id as Juju prints it: `<endpoint>:<number>`, e.g. `upgrade:3`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelationId {
    endpoint: String,
    id: u64,
}

impl RelationId {
    /// Build a relation id from an endpoint name and the relation's number.
    pub fn new(endpoint: &str, id: u64) -> Result<Self, NameError> {
        if !is_valid_endpoint(endpoint) {
            return Err(NameError::new(
                "endpoint name",
                endpoint,
                "expected lowercase letters, digits, '-' and '_', starting with a letter",
            ));
        }
        Ok(RelationId {
            endpoint: endpoint.to_owned(),
            id,
        })
    }

    /// The endpoint (relation name in the charm's metadata), e.g. `upgrade`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The relation's number, unique in the model.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// Is `s` a plausible endpoint name (what charm metadata accepts for relation names)?
pub fn is_valid_endpoint(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl FromStr for RelationId {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        let (endpoint, num) = s
            .rsplit_once(':')
            .ok_or_else(|| NameError::new("relation id", s, "expected <endpoint>:<number>"))?;
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NameError::new(
                "relation id",
                s,
                "the part after ':' must be a decimal number",
            ));
        }
        let id = num
            .parse::<u64>()
            .map_err(|_| NameError::new("relation id", s, "the relation number is too large"))?;
        if !is_valid_endpoint(endpoint) {
            return Err(NameError::new(
                "relation id",
                s,
                "the endpoint must be lowercase letters, digits, '-' and '_', starting with a letter",
            ));
        }
        Ok(RelationId {
            endpoint: endpoint.to_owned(),
            id,
        })
    }
}

impl fmt::Display for RelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.endpoint, self.id)
    }
}

impl Serialize for RelationId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RelationId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The version of the Juju agent running the hook (`JUJU_VERSION`), e.g. `3.6.7`,
/// `3.1-beta1`, `2.9.42.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JujuVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch number (0 for tagged pre-releases such as `3.1-beta1`).
    pub patch: u32,
    /// Pre-release tag, e.g. `beta1`.
    pub tag: Option<String>,
    /// Build number (the fourth component), 0 when absent.
    pub build: u32,
}

impl JujuVersion {
    /// Juju 2.8 is the first agent with `state-get`/`state-set` and `JUJU_DISPATCH_PATH`.
    pub fn has_charm_state(&self) -> bool {
        (self.major, self.minor) >= (2, 8)
    }
}

impl FromStr for JujuVersion {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        const EXPECTED: &str =
            "expected <major>.<minor>.<patch>[.<build>] or <major>.<minor>-<tag>[.<build>]";
        let bad = || NameError::new("Juju version", s, EXPECTED);
        let num = |p: &str| -> Result<u32, NameError> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (major, rest) = s.split_once('.').ok_or_else(bad)?;
        let major = num(major)?;
        if let Some((minor, rest)) = rest.split_once('-') {
            // <major>.<minor>-<tag>[.<build>]
            let minor = num(minor)?;
            let (tag, build) = match rest.split_once('.') {
                Some((tag, build)) => (tag, num(build)?),
                None => (rest, 0),
            };
            let tag_ok = tag.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && tag.bytes().all(|b| b.is_ascii_alphanumeric());
            if !tag_ok {
                return Err(bad());
            }
            return Ok(JujuVersion {
                major,
                minor,
                patch: 0,
                tag: Some(tag.to_owned()),
                build,
            });
        }
        let parts: Vec<&str> = rest.split('.').collect();
        let (minor, patch, build) = match parts.as_slice() {
            [minor, patch] => (num(minor)?, num(patch)?, 0),
            [minor, patch, build] => (num(minor)?, num(patch)?, num(build)?),
            _ => return Err(bad()),
        };
        Ok(JujuVersion {
            major,
            minor,
            patch,
            tag: None,
            build,
        })
    }
}

impl fmt::Display for JujuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{}.{}-{}", self.major, self.minor, tag)?,
            None => write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?,
        }
        if self.build != 0 {
            write!(f, ".{}", self.build)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names() {
        let u: UnitName = "my-db/12".parse().unwrap();
        assert_eq!((u.app(), u.number()), ("my-db", 12));
        assert_eq!(u.to_string(), "my-db/12");
        for bad in [
            "",
            "db",
            "db/",
            "/1",
            "db/x",
            "db/-1",
            "db/01",
            "Db/1",
            "1db/1",
            "db-1/0",
            "db/1/2",
            "db/99999999999",
        ] {
            assert!(bad.parse::<UnitName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn relation_ids() {
        let r: RelationId = "upgrade:3".parse().unwrap();
        assert_eq!((r.endpoint(), r.id()), ("upgrade", 3));
        assert_eq!(r.to_string(), "upgrade:3");
        for bad in [
            "",
            "3",
            "upgrade:",
            ":3",
            "Upgrade:3",
            "up grade:3",
            "upgrade:x",
        ] {
            assert!(bad.parse::<RelationId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn juju_versions() {
        for (s, want) in [
            ("3.6.7", (3, 6, 7, None, 0)),
            ("2.9.42.1", (2, 9, 42, None, 1)),
            ("3.1-beta1", (3, 1, 0, Some("beta1"), 0)),
            ("4.0-rc2.3", (4, 0, 0, Some("rc2"), 3)),
        ] {
            let v: JujuVersion = s.parse().unwrap();
            assert_eq!((v.major, v.minor, v.patch, v.tag.as_deref(), v.build), want);
            assert_eq!(v.to_string(), s);
        }
        for bad in [
            "",
            "3",
            "3.6",
            "3.6.x",
            "3.6.7.8.9",
            "3.1-",
            "3.1-1beta",
            "v3.6.7",
        ] {
            assert!(bad.parse::<JujuVersion>().is_err(), "{bad:?} accepted");
        }
        assert!("2.8.0".parse::<JujuVersion>().unwrap().has_charm_state());
        assert!(!"2.7.9".parse::<JujuVersion>().unwrap().has_charm_state());
    }
}
