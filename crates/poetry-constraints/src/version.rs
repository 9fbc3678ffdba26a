//! PEP 440 versions exactly as poetry-core 2.5.0 parses and orders them.
//!
//! The grammar is packaging 26's `VERSION_PATTERN` with its possessive quantifiers (CPython
//! 3.11.5 and later): every optional part either matches as a whole or not at all, which is
//! also how `nom`'s `opt` behaves. Letters match ASCII case-insensitively; digits are ASCII.
//!
//! Two poetry-core surprises are kept on purpose, because `allows` depends on them:
//! - a release phase is normalised only when spelled in lowercase (`alpha` -> `a`,
//!   `c`/`pre`/`preview` -> `rc`, `r`/`rev` -> `post`); any other spelling keeps its text and
//!   compares as that text, so `1.0A1` is not `1.0a1` (`"A" < "a"`), and `<1.0` allows
//!   `1.0.DEV0`;
//! - numbers have no size limit, except CPython's 4300 digits per number.

use std::cmp::Ordering;
use std::fmt;

use nom::branch::alt;
use nom::bytes::complete::take_while1;
use nom::character::complete::{char, digit1, one_of};
use nom::combinator::{opt, recognize};
use nom::multi::many0_count;
use nom::{IResult, Parser};

use crate::num::Num;

/// Release components; up to four live inline, without an allocation.
pub type Release = smallvec::SmallVec<[Num; 4]>;

/// The text of a release phase (`a`, `rc`, `post`, `dev`, or an unnormalised spelling such as
/// `ALPHA`), compared byte-wise like Python strings.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Phase {
    len: u8,
    bytes: [u8; 7],
}

impl Phase {
    fn new(text: &str) -> Phase {
        // Every spelling the grammar accepts is ASCII and at most 7 bytes ("preview").
        let mut bytes = [0u8; 7];
        let n = text.len().min(7);
        bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
        Phase {
            len: n as u8,
            bytes,
        }
    }

    /// poetry-core's `ReleaseTag` normalisation: only exact lowercase spellings map.
    fn normalised(text: &str) -> Phase {
        Phase::new(match text {
            "a" | "alpha" => "a",
            "b" | "beta" => "b",
            "rc" | "c" | "pre" | "preview" => "rc",
            "post" | "r" | "rev" | "-" => "post",
            "dev" => "dev",
            other => other,
        })
    }

    /// The phase text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    /// The bytes as one big-endian number: every phase byte is a nonzero ASCII letter (or
    /// `-`), so zero padding orders a prefix first, exactly as comparing the texts does.
    fn key(&self) -> u64 {
        let b = self.bytes;
        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], 0])
    }
}

impl Ord for Phase {
    fn cmp(&self, other: &Phase) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Phase {
    fn partial_cmp(&self, other: &Phase) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// A pre, post or dev segment: phase and number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The phase.
    pub phase: Phase,
    /// The number (0 when omitted).
    pub number: Num,
}

impl Tag {
    fn new(phase: &str, number: Num) -> Tag {
        Tag {
            phase: Phase::normalised(phase),
            number,
        }
    }

    fn next(&self) -> Tag {
        Tag {
            phase: self.phase,
            number: self.number.succ(),
        }
    }
}

/// One segment of a local version label (`+ubuntu.1`): numeric segments compare as numbers
/// and above alphanumeric ones.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocalPart {
    /// The segment as written, lowercased.
    pub text: Box<str>,
    /// Its value, if all digits.
    pub number: Option<Num>,
}

impl Ord for LocalPart {
    fn cmp(&self, other: &LocalPart) -> Ordering {
        match (&self.number, &other.number) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => self.text.cmp(&other.text),
        }
    }
}

impl PartialOrd for LocalPart {
    fn partial_cmp(&self, other: &LocalPart) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A PEP 440 version as poetry-core models it.
///
/// Its parts are read with [`Version::epoch`], [`Version::release`], ...; they cannot be
/// changed, because the version keeps a summary of them for fast comparison.
#[derive(Clone, Debug)]
pub struct Version {
    pub(crate) epoch: Num,
    pub(crate) release: Release,
    pub(crate) pre: Option<Tag>,
    pub(crate) post: Option<Tag>,
    pub(crate) dev: Option<Tag>,
    pub(crate) local: Option<Vec<LocalPart>>,
    /// [`Version::order_key`] of the parts above.
    key: u128,
}

/// A version string poetry-core would refuse (`Invalid PEP 440 version: '<value>'`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid version {input:?}: {reason}")]
pub struct VersionError {
    /// The text given.
    pub input: String,
    /// What was wrong, with the byte offset where it was noticed.
    pub reason: String,
}

/// What the version grammar matched, before conversion.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawVersion<'a> {
    epoch: Option<&'a str>,
    release: &'a str,
    pre: Option<(&'a str, Option<&'a str>)>,
    post: Option<(Option<&'a str>, Option<&'a str>)>,
    dev: Option<(&'a str, Option<&'a str>)>,
    local: Option<&'a str>,
}

/// An ASCII case-insensitive literal.
fn ci<'a>(lit: &'static str) -> impl Fn(&'a str) -> IResult<&'a str, &'a str> {
    move |i: &'a str| {
        let n = lit.len();
        if i.len() >= n && i.as_bytes()[..n].eq_ignore_ascii_case(lit.as_bytes()) {
            Ok((&i[n..], &i[..n]))
        } else {
            Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Tag,
            )))
        }
    }
}

fn sep(i: &str) -> IResult<&str, char> {
    one_of("._-").parse(i)
}

fn alnum1(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric()).parse(i)
}

type Labelled<'a> = (&'a str, Option<&'a str>);

fn pre_segment(i: &str) -> IResult<&str, Labelled<'_>> {
    let labels = alt((
        ci("alpha"),
        ci("a"),
        ci("beta"),
        ci("b"),
        ci("preview"),
        ci("pre"),
        ci("c"),
        ci("rc"),
    ));
    (opt(sep), labels, opt(sep), opt(digit1))
        .map(|(_, l, _, n)| (l, n))
        .parse(i)
}

fn post_segment(i: &str) -> IResult<&str, (Option<&str>, Option<&str>)> {
    let implicit = (char('-'), digit1).map(|(_, n)| (None, Some(n)));
    let labels = alt((ci("post"), ci("rev"), ci("r")));
    let explicit = (opt(sep), labels, opt(sep), opt(digit1)).map(|(_, l, _, n)| (Some(l), n));
    alt((implicit, explicit)).parse(i)
}

fn dev_segment(i: &str) -> IResult<&str, Labelled<'_>> {
    (opt(sep), ci("dev"), opt(sep), opt(digit1))
        .map(|(_, l, _, n)| (l, n))
        .parse(i)
}

fn local_segment(i: &str) -> IResult<&str, &str> {
    (char('+'), recognize((alnum1, many0_count((sep, alnum1)))))
        .map(|(_, l)| l)
        .parse(i)
}

/// packaging's `VERSION_PATTERN`, unanchored: the longest (possessive) match at the start.
pub(crate) fn version_pattern(i: &str) -> IResult<&str, RawVersion<'_>> {
    // `v? (N!)? N(.N)*`, scanned by hand: this prefix is in every version and the hottest
    // part of the grammar (same matches as `opt(one_of("vV")), opt((digit1, char('!'))),
    // recognize((digit1, many0_count((char('.'), digit1))))`; a unit test holds them equal).
    let (rest, epoch, release) = release_prefix(i)
        .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Digit)))?;
    let mut raw = RawVersion {
        epoch,
        release,
        pre: None,
        post: None,
        dev: None,
        local: None,
    };
    // Every later segment starts with a separator, a letter or `+`: when the next byte is
    // none of these (the common case: end of text, `,`, `.*`), they all fail at once.
    let starts_segment = |s: &str| {
        s.as_bytes()
            .first()
            .is_some_and(|&b| matches!(b, b'.' | b'_' | b'-' | b'+') || b.is_ascii_alphabetic())
    };
    if !starts_segment(rest) || rest.starts_with(".*") {
        return Ok((rest, raw));
    }
    let (rest, (pre, post, dev, local)) = (
        opt(pre_segment),
        opt(post_segment),
        opt(dev_segment),
        opt(local_segment),
    )
        .parse(rest)?;
    raw.pre = pre;
    raw.post = post;
    raw.dev = dev;
    raw.local = local;
    Ok((rest, raw))
}

/// The leading `v? (N!)? N(.N)*` of a version: (rest, epoch digits, release text).
fn release_prefix(i: &str) -> Option<(&str, Option<&str>, &str)> {
    let b = i.as_bytes();
    let digits_at = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut p = usize::from(matches!(b.first(), Some(b'v' | b'V')));
    let mut epoch = None;
    let n = digits_at(p);
    if n > 0 && b.get(p + n) == Some(&b'!') {
        epoch = Some(&i[p..p + n]);
        p += n + 1;
    }
    let start = p;
    let n = digits_at(p);
    if n == 0 {
        return None;
    }
    p += n;
    while b.get(p) == Some(&b'.') {
        let n = digits_at(p + 1);
        if n == 0 {
            break;
        }
        p += 1 + n;
    }
    Some((&i[p..], epoch, &i[start..p]))
}

/// Python's `str.isspace()`, which `\s`, `strip()` and `rstrip()` use: Unicode White_Space
/// plus the information separators U+001C..U+001F.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn too_long(input: &str) -> VersionError {
    VersionError {
        input: input.to_owned(),
        reason: format!(
            "a number has more than {} digits, the most CPython converts",
            crate::num::MAX_DIGITS
        ),
    }
}

impl<'a> RawVersion<'a> {
    /// Build the version; fails only on a number too long for CPython.
    pub(crate) fn build(&self, input: &str) -> Result<Version, VersionError> {
        let num = |s: &str| Num::parse(s).ok_or_else(|| too_long(input));
        let opt_num = |s: Option<&str>| s.map_or(Ok(Num::ZERO), num);
        let epoch = match self.epoch {
            Some(e) => num(e)?,
            None => Num::ZERO,
        };
        // The grammar matched `N(.N)*`.
        let mut release = Release::new();
        let mut rest = self.release;
        loop {
            let end = rest.bytes().position(|b| b == b'.').unwrap_or(rest.len());
            release.push(num(&rest[..end])?);
            if end == rest.len() {
                break;
            }
            rest = &rest[end + 1..];
        }
        let pre = match self.pre {
            Some((l, n)) => Some(Tag::new(l, opt_num(n)?)),
            None => None,
        };
        let post = match self.post {
            Some((l, n)) => Some(Tag::new(l.unwrap_or("post"), opt_num(n)?)),
            None => None,
        };
        let dev = match self.dev {
            Some((l, n)) => Some(Tag::new(l, opt_num(n)?)),
            None => None,
        };
        let local = match self.local {
            Some(l) => Some(
                l.split(['.', '_', '-'])
                    .map(|part| {
                        let text = part.to_ascii_lowercase();
                        let number = if text.bytes().all(|b| b.is_ascii_digit()) {
                            Some(num(&text)?)
                        } else {
                            None
                        };
                        Ok(LocalPart {
                            text: text.into(),
                            number,
                        })
                    })
                    .collect::<Result<Vec<_>, VersionError>>()?,
            ),
            None => None,
        };
        Ok(Version::from_parts(epoch, release, pre, post, dev, local))
    }
}

// The layout of an order key, from the most significant bit: a marker bit (so that a key
// is never 0, which means "no key"), the epoch (7 bits), four release components (16 bits
// each), the pre-release, post-release and development parts (16 bits each), the local
// label (8 bits).
const KEY_MARK: u32 = 127;
const KEY_EPOCH: u32 = 120;
const KEY_RELEASE: u32 = 104; // the first component; each next one 16 bits lower
const KEY_PRE: u32 = 40;
const KEY_POST: u32 = 24;
const KEY_DEV: u32 = 8;
const FIELD: u128 = 0xFFFF;
/// The local field's value for a label it cannot hold.
const LOCAL_OTHER: u128 = 0xFF;

impl Version {
    /// The one way a version is made: the key is worked out from the parts.
    pub(crate) fn from_parts(
        epoch: Num,
        release: Release,
        pre: Option<Tag>,
        post: Option<Tag>,
        dev: Option<Tag>,
        local: Option<Vec<LocalPart>>,
    ) -> Version {
        let mut v = Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
            key: 0,
        };
        v.key = v.order_key();
        v
    }

    /// A number that orders the everyday versions as [`View::cmp`] does (see [`cmp_keys`]
    /// for how two keys are compared). 0 (no key) for a version with an epoch of 127 or
    /// more, a release component of 65535 or more (or a nonzero one after the fourth), a tag
    /// number too large for its field, or a phase spelled other than `a`, `b`, `rc`,
    /// `post`, `dev`.
    ///
    /// Each field encodes one step of the comparison chain: the pre-release field is
    /// 0 for "below" (a development release with no pre or post part), `rank << 12 | n`
    /// for `a`/`b`/`rc` n (ranks 1, 2, 3, in the phases' byte order), 0xFFFF for "above";
    /// the post field is 0 when absent, else 1 + n; the development field n, or 0xFFFF
    /// when absent (a version without one is above its development releases); the local
    /// field 0 without a label, 1-26 for a one-letter label (`+a` to `+z`), 0x80 + n for a
    /// label that is one number n below 127 (numbers sort above letters), and
    /// [`LOCAL_OTHER`] for any other label, which only the full comparison can place.
    fn order_key(&self) -> u128 {
        let small = |n: &Num, limit: u64| match n {
            Num::Small(x) if *x < limit => Some(u128::from(*x)),
            _ => None,
        };
        let phase = |t: &Tag, text: &str| t.phase == Phase::new(text);
        let key = || -> Option<u128> {
            let mut key = 1 << KEY_MARK | small(&self.epoch, 127)? << KEY_EPOCH;
            for (i, n) in self.release.iter().enumerate() {
                if i < 4 {
                    key |= small(n, 0xFFFF)? << (KEY_RELEASE - 16 * i as u32);
                } else if !n.is_zero() {
                    return None;
                }
            }
            let pre = match (&self.pre, &self.post, &self.dev) {
                (None, None, Some(_)) => 0,
                (None, _, _) => FIELD,
                (Some(t), _, _) => {
                    let rank = [("a", 1), ("b", 2), ("rc", 3)]
                        .into_iter()
                        .find(|(text, _)| phase(t, text))?
                        .1;
                    rank << 12 | small(&t.number, 0x1000)?
                }
            };
            let post = match &self.post {
                None => 0,
                Some(t) if phase(t, "post") => 1 + small(&t.number, 0xFFFE)?,
                Some(_) => return None,
            };
            let dev = match &self.dev {
                None => FIELD,
                Some(t) if phase(t, "dev") => small(&t.number, 0xFFFF)?,
                Some(_) => return None,
            };
            let local = match self.local.as_deref() {
                None => 0,
                Some([part]) => match (&part.number, part.text.as_bytes()) {
                    (Some(Num::Small(n)), _) if *n < 127 => 0x80 + u128::from(*n),
                    (None, &[c]) if c.is_ascii_lowercase() => u128::from(c - b'a' + 1),
                    _ => LOCAL_OTHER,
                },
                Some(_) => LOCAL_OTHER,
            };
            Some(key | pre << KEY_PRE | post << KEY_POST | dev << KEY_DEV | local)
        };
        key().unwrap_or(0)
    }

    /// The epoch (0 when not written).
    pub fn epoch(&self) -> &Num {
        &self.epoch
    }

    /// The release components as written (`1.0` has two; trailing zeros do not affect
    /// the order).
    pub fn release(&self) -> &[Num] {
        &self.release
    }

    /// The pre-release part (`a`, `b`, `rc`, or an unnormalised spelling).
    pub fn pre(&self) -> Option<&Tag> {
        self.pre.as_ref()
    }

    /// The post-release part.
    pub fn post(&self) -> Option<&Tag> {
        self.post.as_ref()
    }

    /// The development part.
    pub fn dev(&self) -> Option<&Tag> {
        self.dev.as_ref()
    }

    /// The local label's segments.
    pub fn local(&self) -> Option<&[LocalPart]> {
        self.local.as_deref()
    }
}

impl Version {
    /// Parse like poetry-core's `Version.parse`: surrounding (Unicode) whitespace allowed,
    /// an optional `v`, and exactly one PEP 440 version.
    pub fn parse(input: &str) -> Result<Version, VersionError> {
        let start = input.len() - input.trim_start_matches(is_py_space).len();
        let body = input.trim_matches(is_py_space);
        if body.is_empty() {
            return Err(VersionError {
                input: input.to_owned(),
                reason: "expected a version, found nothing".into(),
            });
        }
        match version_pattern(body) {
            Ok(("", raw)) => raw.build(input),
            Ok((rest, _)) => {
                let at = start + body.len() - rest.len();
                Err(VersionError {
                    input: input.to_owned(),
                    reason: format!(
                        "unexpected {:?} at byte {at}",
                        rest.chars().next().unwrap_or(' ')
                    ),
                })
            }
            Err(_) => Err(VersionError {
                input: input.to_owned(),
                reason: format!(
                    "expected a release number such as 1.2.3 at byte {start}, found {:?}",
                    body.chars().next().unwrap_or(' ')
                ),
            }),
        }
    }

    /// The same epoch with this release and no other part.
    pub(crate) fn with(&self, release: Release) -> Version {
        Version::from_parts(self.epoch.clone(), release, None, None, None, None)
    }

    /// The same epoch and release with these tags.
    fn with_tags(&self, pre: Option<Tag>, post: Option<Tag>, dev: Option<Tag>) -> Version {
        Version::from_parts(
            self.epoch.clone(),
            self.release.clone(),
            pre,
            post,
            dev,
            None,
        )
    }

    /// Has a pre-release segment.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// Has a post-release segment.
    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    /// Has a development segment.
    pub fn is_devrelease(&self) -> bool {
        self.dev.is_some()
    }

    /// Has a local label.
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// Pre-release or development release.
    pub fn is_unstable(&self) -> bool {
        self.is_prerelease() || self.is_devrelease()
    }

    /// Neither pre-release nor development release.
    pub fn is_stable(&self) -> bool {
        !self.is_unstable()
    }

    /// Number of release components written.
    pub fn precision(&self) -> usize {
        self.release.len()
    }

    pub(crate) fn major(&self) -> &Num {
        &self.release[0]
    }

    pub(crate) fn minor(&self) -> Option<&Num> {
        self.release.get(1)
    }

    pub(crate) fn patch(&self) -> Option<&Num> {
        self.release.get(2)
    }

    /// poetry-core's `stable`: itself when stable, else the release with its post segment
    /// (only when there is no pre segment).
    pub(crate) fn stable(&self) -> Version {
        if self.is_stable() {
            return self.clone();
        }
        let post = if self.pre.is_none() {
            self.post.clone()
        } else {
            None
        };
        self.with_tags(None, post, None)
    }

    fn increment_required(&self) -> bool {
        self.is_stable() || (!self.is_prerelease() && self.is_postrelease())
    }

    /// Is `[parts..., 0, 0, ...]` (the release cut after `keep` parts) below the release?
    fn has_nonzero_after(&self, keep: usize) -> bool {
        self.release.iter().skip(keep).any(|n| !n.is_zero())
    }

    pub(crate) fn next_major(&self) -> Version {
        if self.increment_required() || self.has_nonzero_after(1) {
            self.with(release_next_major(&self.release))
        } else {
            self.with(self.release.clone())
        }
    }

    pub(crate) fn next_minor(&self) -> Version {
        if self.increment_required() || self.has_nonzero_after(2) {
            self.with(release_next_minor(&self.release))
        } else {
            self.with(self.release.clone())
        }
    }

    pub(crate) fn next_patch(&self) -> Version {
        if self.increment_required() || self.has_nonzero_after(3) {
            self.with(release_next_patch(&self.release))
        } else {
            self.with(self.release.clone())
        }
    }

    /// The upper bound of `^self`.
    pub(crate) fn next_breaking(&self) -> Version {
        let stable = self.stable();
        if !self.major().is_zero() || self.minor().is_none() {
            return stable.next_major();
        }
        if !self.minor().is_some_and(Num::is_zero) || self.patch().is_none() {
            return stable.next_minor();
        }
        stable.next_patch()
    }

    pub(crate) fn next_stable(&self) -> Version {
        let release = if self.is_stable() {
            release_next(&self.release)
        } else {
            self.release.clone()
        };
        Version::from_parts(
            self.epoch.clone(),
            release,
            None,
            None,
            None,
            self.local.clone(),
        )
    }

    pub(crate) fn next_prerelease(&self) -> Version {
        let pre = match &self.pre {
            Some(p) if !self.is_devrelease() || self.is_postrelease() => p.next(),
            Some(p) => p.clone(),
            None => Tag::new("a", Num::ZERO),
        };
        self.with_tags(Some(pre), None, None)
    }

    pub(crate) fn next_postrelease(&self) -> Version {
        let post = match &self.post {
            Some(p) if self.dev.is_none() => p.next(),
            Some(p) => p.clone(),
            None => Tag::new("post", Num::ZERO),
        };
        self.with_tags(self.pre.clone(), Some(post), None)
    }

    pub(crate) fn next_devrelease(&self) -> Version {
        let dev = match &self.dev {
            Some(d) => d.next(),
            None => Tag::new("dev", Num::ZERO),
        };
        self.with_tags(self.pre.clone(), self.post.clone(), Some(dev))
    }

    pub(crate) fn first_devrelease(&self) -> Version {
        self.with_tags(
            self.pre.clone(),
            self.post.clone(),
            Some(Tag::new("dev", Num::ZERO)),
        )
    }

    pub(crate) fn without_local(&self) -> Version {
        self.with_tags(self.pre.clone(), self.post.clone(), self.dev.clone())
    }

    pub(crate) fn without_devrelease(&self) -> Version {
        Version::from_parts(
            self.epoch.clone(),
            self.release.clone(),
            self.pre.clone(),
            self.post.clone(),
            None,
            self.local.clone(),
        )
    }
}

fn zeros_after(parts: &[Num], keep: usize) -> impl Iterator<Item = Num> + '_ {
    parts.iter().skip(keep).map(|_| Num::ZERO)
}

fn release_next_major(r: &[Num]) -> Release {
    std::iter::once(r[0].succ())
        .chain(zeros_after(r, 1))
        .collect()
}

fn release_next_minor(r: &[Num]) -> Release {
    match r.len() {
        1 => smallvec::smallvec![r[0].clone(), Num::Small(1)],
        _ => [r[0].clone(), r[1].succ()]
            .into_iter()
            .chain(zeros_after(r, 2))
            .collect(),
    }
}

fn release_next_patch(r: &[Num]) -> Release {
    match r.len() {
        1 => smallvec::smallvec![r[0].clone(), Num::ZERO, Num::Small(1)],
        2 => smallvec::smallvec![r[0].clone(), r[1].clone(), Num::Small(1)],
        _ => [r[0].clone(), r[1].clone(), r[2].succ()]
            .into_iter()
            .chain(zeros_after(r, 3))
            .collect(),
    }
}

fn release_next(r: &[Num]) -> Release {
    match r.len() {
        1 => release_next_major(r),
        2 => release_next_minor(r),
        3 => release_next_patch(r),
        n => {
            let mut v: Release = r.iter().cloned().collect();
            v[n - 1] = v[n - 1].succ();
            v
        }
    }
}

/// Release components compared as if padded with zeros (poetry-core strips trailing zeros).
fn cmp_release(a: &[Num], b: &[Num]) -> Ordering {
    let n = a.len().min(b.len());
    for (x, y) in a[..n].iter().zip(&b[..n]) {
        let o = x.cmp(y);
        if o != Ordering::Equal {
            return o;
        }
    }
    // Missing components are zeros.
    if a[n..].iter().any(|x| !x.is_zero()) {
        Ordering::Greater
    } else if b[n..].iter().any(|y| !y.is_zero()) {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

/// The order of two versions from their order keys, when the keys decide it: both present,
/// and either different above the local field or with both local labels held in it.
#[inline]
fn cmp_keys(a: u128, b: u128) -> Option<Ordering> {
    if a == 0 || b == 0 {
        return None;
    }
    if (a ^ b) & !LOCAL_OTHER != 0 {
        return Some(a.cmp(&b));
    }
    let (la, lb) = (a & LOCAL_OTHER, b & LOCAL_OTHER);
    (la != LOCAL_OTHER && lb != LOCAL_OTHER).then(|| la.cmp(&lb))
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Below,
    Tag(&'a Tag),
    Above,
}

/// A version seen without some of its parts, compared without copying it.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    v: &'a Version,
    no_post: bool,
    no_local: bool,
}

impl<'a> View<'a> {
    /// The whole version.
    pub(crate) fn of(v: &'a Version) -> View<'a> {
        View {
            v,
            no_post: false,
            no_local: false,
        }
    }

    /// poetry-core's `without_postrelease()`: a post-release loses its post and dev parts.
    pub(crate) fn without_postrelease(self) -> View<'a> {
        View {
            no_post: self.no_post || self.v.post.is_some(),
            ..self
        }
    }

    /// poetry-core's `without_local()`.
    pub(crate) fn without_local(self) -> View<'a> {
        View {
            no_local: true,
            ..self
        }
    }

    pub(crate) fn is_postrelease(&self) -> bool {
        !self.no_post && self.v.post.is_some()
    }

    pub(crate) fn is_local(&self) -> bool {
        !self.no_local && self.v.local.is_some()
    }

    fn post(&self) -> Option<&'a Tag> {
        if self.no_post {
            None
        } else {
            self.v.post.as_ref()
        }
    }

    fn dev(&self) -> Option<&'a Tag> {
        if self.no_post {
            None
        } else {
            self.v.dev.as_ref()
        }
    }

    fn local(&self) -> Option<&'a [LocalPart]> {
        if self.no_local {
            None
        } else {
            self.v.local.as_deref()
        }
    }

    fn pre_key(&self) -> Key<'a> {
        match (&self.v.pre, self.post(), self.dev()) {
            (None, None, Some(_)) => Key::Below,
            (None, _, _) => Key::Above,
            (Some(t), _, _) => Key::Tag(t),
        }
    }

    /// The order key of the version seen this way (0 for none).
    #[inline]
    fn key(&self) -> u128 {
        debug_assert_eq!(self.v.key, self.v.order_key(), "a stale key: {:?}", self.v);
        let mut key = self.v.key;
        if key == 0 {
            return 0;
        }
        // Without the post part: post field absent, development field absent. The
        // pre-release field stays: `no_post` is only set on a post-release, whose pre field
        // is already "above" when it has no pre-release part, as it is without the post part.
        if self.no_post {
            key = key & !(FIELD << KEY_POST) | FIELD << KEY_DEV;
        }
        if self.no_local {
            key &= !LOCAL_OTHER;
        }
        key
    }

    /// poetry-core's version order (its `_compare_key`): by the order keys when they
    /// decide it, else part by part.
    #[inline]
    pub(crate) fn cmp(&self, other: &View<'a>) -> Ordering {
        match cmp_keys(self.key(), other.key()) {
            Some(o) => {
                debug_assert_eq!(o, self.cmp_parts(other), "{:?} {:?}", self.v, other.v);
                o
            }
            None => self.cmp_parts(other),
        }
    }

    #[inline(never)]
    fn cmp_parts(&self, other: &View<'a>) -> Ordering {
        self.v
            .epoch
            .cmp(&other.v.epoch)
            .then_with(|| cmp_release(&self.v.release, &other.v.release))
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            .then_with(|| {
                let k = |t: Option<&'a Tag>| t.map_or(Key::Below, Key::Tag);
                k(self.post()).cmp(&k(other.post()))
            })
            .then_with(|| {
                let k = |t: Option<&'a Tag>| t.map_or(Key::Above, Key::Tag);
                k(self.dev()).cmp(&k(other.dev()))
            })
            .then_with(|| self.local().cmp(&other.local()))
    }
}

impl Ord for Version {
    #[inline]
    fn cmp(&self, other: &Version) -> Ordering {
        View::of(self).cmp(&View::of(other))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    #[inline]
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    /// poetry-core's normalised text: `[N!]release[pre][.postN][.devN][+local]`, lowercase.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.epoch.is_zero() {
            write!(f, "{}!", self.epoch)?;
        }
        for (i, n) in self.release.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        let lower = |t: &Tag| t.phase.as_str().to_ascii_lowercase();
        if let Some(t) = &self.pre {
            write!(f, "{}{}", lower(t), t.number)?;
        }
        if let Some(t) = &self.post {
            write!(f, ".{}{}", lower(t), t.number)?;
        }
        if let Some(t) = &self.dev {
            write!(f, ".{}{}", lower(t), t.number)?;
        }
        if let Some(local) = &self.local {
            f.write_str("+")?;
            for (i, p) in local.iter().enumerate() {
                if i > 0 {
                    f.write_str(".")?;
                }
                f.write_str(&p.text)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written release prefix matches exactly what the nom grammar it replaced
    /// matches, on every short string over the characters that matter.
    #[test]
    fn release_prefix_is_the_nom_grammar() {
        fn nom_prefix(i: &str) -> Option<(&str, Option<&str>, &str)> {
            let epoch = (digit1, char('!')).map(|(e, _)| e);
            let release = recognize((digit1, many0_count((char('.'), digit1))));
            let r: IResult<&str, _> = (opt(one_of("vV")), opt(epoch), release).parse(i);
            r.ok().map(|(rest, (_, e, rel))| (rest, e, rel))
        }
        let alphabet = ["0", "1", "9", ".", "!", "v", "V", "a", "*", "-", "é"];
        let mut inputs = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for s in &inputs {
                for c in alphabet {
                    next.push(format!("{s}{c}"));
                }
            }
            inputs.extend(next);
            inputs.sort();
            inputs.dedup();
        }
        assert!(inputs.len() > 150_000);
        for s in &inputs {
            assert_eq!(super::release_prefix(s), nom_prefix(s), "{s:?}");
        }
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn normal_forms() {
        for (input, text) in [
            ("1.0", "1.0"),
            ("v01.00", "1.0"),
            ("  1.0\n", "1.0"),
            ("1!2.3", "1!2.3"),
            ("1.0-rc.1", "1.0rc1"),
            ("1.0a", "1.0a0"),
            ("1.0ALPHA1", "1.0alpha1"),
            ("1.0-1", "1.0.post1"),
            ("1.0.post.", "1.0.post0"),
            ("1.0a.", "1.0a0"),
            ("1.0dev", "1.0.dev0"),
            ("1.0.r2", "1.0.post2"),
            ("1.0+Ubuntu-1_2", "1.0+ubuntu.1.2"),
            ("18446744073709551616", "18446744073709551616"),
        ] {
            assert_eq!(v(input).to_string(), text, "{input:?}");
        }
    }

    #[test]
    fn invalid() {
        for bad in [
            "",
            " ",
            "1..0",
            "1.0.",
            "1.0-",
            "1.0+",
            "1.0 1",
            "1.0rc1rc2",
            "1.0.post1.post2",
            "1.0-beta.1.2",
            "1.x",
            "１.0",
            "1.0+\u{212a}",
            "1.0.po\u{17f}t1",
            "a1",
            "1.0\u{200b}",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn pep440_order() {
        let order = [
            "1.0.dev0",
            "1.0a0.dev0",
            "1.0a0",
            "1.0",
            "1.0+abc",
            "1.0+1",
            "1.0.post0.dev0",
            "1.0.post0",
            "1.1",
            "1!0.5",
        ];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("1"), v("1.0.0.0"));
        assert_eq!(v("1.0+01"), v("1.0+1"));
        assert_ne!(v("1.0A1"), v("1.0a1"));
        assert!(v("1.0A1") < v("1.0a1"));
        assert!(v("1.0.DEV0") < v("1.0.dev0"));
        assert!(v("18446744073709551616") > v("18446744073709551615"));
    }

    /// Every version built from these parts, with every view `allows` takes of it.
    fn key_vocabulary() -> Vec<Version> {
        let mut out = Vec::new();
        for epoch in ["", "1!", "200!"] {
            for release in ["1", "1.0.0.0.0", "1.2.3.4.5", "65534", "65535"] {
                for pre in ["", "a0", "b4095", "b4096", "rc2", "A1"] {
                    for post in ["", ".post0", ".post65533", ".post65534", ".POST1"] {
                        for dev in ["", ".dev0", ".dev65534", ".dev65535"] {
                            for local in ["", "+x", "+z", "+0", "+126", "+127", "+abc"] {
                                out.push(v(&format!("{epoch}{release}{pre}{post}{dev}{local}")));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn order_keys_agree_with_the_full_comparison() {
        let versions = key_vocabulary();
        fn views(x: &Version) -> [View<'_>; 4] {
            let w = View::of(x);
            [
                w,
                w.without_local(),
                w.without_postrelease(),
                w.without_postrelease().without_local(),
            ]
        }
        // A sample of the pairs (all of them would be 10^8, times 16 views): strides
        // through the list, so that every part varies against every other.
        let (mut decided, mut keyed) = (0u64, 0u64);
        for (i, a) in versions.iter().enumerate().step_by(5) {
            for b in versions.iter().skip(i % 89).step_by(89) {
                for x in views(a) {
                    for y in views(b) {
                        keyed += u64::from(x.key() != 0 && y.key() != 0);
                        if let Some(o) = cmp_keys(x.key(), y.key()) {
                            decided += 1;
                            assert_eq!(o, x.cmp_parts(&y), "{a} vs {b}");
                        }
                    }
                }
            }
        }
        // Where both have keys, the keys decide, but for two local labels the key cannot
        // hold on otherwise equal versions.
        assert!(
            decided * 10 > keyed * 9,
            "keys decided {decided} of {keyed}"
        );
    }
}
