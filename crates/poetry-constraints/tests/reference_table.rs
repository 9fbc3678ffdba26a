//! The reference library's own version-constraint unit tests (reference-behaviour.md §3.1,
//! `verify_requirements(version, requirement)`), and the behaviours the constraint note
//! documents, as tables.

use poetry_constraints::{verdict, Constraint, Verdict, Version};

/// (requirement, [(version, allowed)]) straight from the upstream tests.
const REFERENCE: &[(&str, &[(&str, bool)])] = &[
    (
        "^1.2.3",
        &[
            ("1.2.2", false),
            ("1.2.3", true),
            ("1.2.4", true),
            ("1.3.4", true),
            ("2.2.3", false),
            ("2.0.0", false),
        ],
    ),
    (
        "^1.2",
        &[
            ("0.9.2", false),
            ("1.0.0", false),
            ("1.2.0", true),
            ("1.3.0", true),
            ("1.3", true),
            ("2", false),
            ("2.2", false),
            ("2.2.0", false),
        ],
    ),
    (
        "^1",
        &[
            ("0.9.2", false),
            ("1.0.0", true),
            ("1.2.0", true),
            ("1.3.0", true),
            ("1.3", true),
            ("2", false),
            ("2.2", false),
            ("2.2.0", false),
        ],
    ),
    (
        "^0.2.3",
        &[
            ("0.2.2", false),
            ("0.2.3", true),
            ("0.3.0", false),
            ("1.2.0", false),
        ],
    ),
    (
        "^0.0.3",
        &[
            ("0.0.2", false),
            ("0.0.4", false),
            ("0.1.4", false),
            ("1.1.4", false),
        ],
    ),
    (
        "^0.0",
        &[("0", true), ("0.0.1", true), ("0.1", false), ("1.0", false)],
    ),
    (
        "^0",
        &[
            ("0", true),
            ("0.0", true),
            ("0.0.0", true),
            ("0.1.0", true),
            ("0.1.6", true),
            ("0.1", true),
            ("1.0", false),
            ("0.9.9", true),
        ],
    ),
    (
        "~1.2.3",
        &[
            ("1.2.2", false),
            ("1.3.2", false),
            ("1.3.5", false),
            ("1.2.5", true),
            ("1.2", false),
        ],
    ),
    (
        "~1.2",
        &[
            ("1.2", true),
            ("1.6", false),
            ("1.2.4", true),
            ("1.1", false),
            ("1.0.5", false),
        ],
    ),
    ("~0.2", &[("0.2", true), ("0.2.3", true), ("0.3", false)]),
    (
        "~1",
        &[
            ("0.3", false),
            ("1.3", true),
            ("0.0.9", false),
            ("0.9.9", false),
            ("1.9.9", true),
            ("1.7", true),
            ("1", true),
        ],
    ),
    ("~0", &[("1", false), ("0.1", true), ("0.5.9", true)]),
    (
        "*",
        &[
            ("1.5.6", true),
            ("0.0.1", true),
            ("0.2.0", true),
            ("1.0.0", true),
        ],
    ),
    (
        "1.*",
        &[("1.0.0", true), ("2.0.0", false), ("0.6.2", false)],
    ),
    (
        "1.2.*",
        &[
            ("0.6.2", false),
            ("1.6.2", false),
            ("1.2.2", true),
            ("1.2.0", true),
            ("1.1.6", false),
            ("1.1.0", false),
        ],
    ),
    (
        "0.2.*",
        &[
            ("1.1.0", false),
            ("0.1.0", false),
            ("0.2.9", true),
            ("0.6.0", false),
        ],
    ),
    ("0.1", &[("0.1", true), ("0.2", false)]),
    (">1", &[("1.8", true), ("8.8.0", true)]),
    (
        ">0",
        &[
            ("8.8.0", true),
            ("0.0", false),
            ("0.0.0", false),
            ("0.0.1", true),
        ],
    ),
    (
        ">1.0",
        &[
            ("1.0.0", false),
            ("1.0", false),
            ("1.5.6", true),
            ("2.0", true),
            ("0.0.4", false),
        ],
    ),
    (
        ">1.6",
        &[("1.3", false), ("1.3.8", false), ("1.35.8", true)],
    ),
    (">1.6.3", &[("1.7.8", true)]),
    (">1.22.3", &[("1.7.8", false)]),
    (">0.22.3", &[("1.7.8", true)]),
    (
        ">=1.0",
        &[
            ("1.0.0", true),
            ("1.0", true),
            ("1.5.6", true),
            ("2.0", true),
            ("0.0.4", false),
        ],
    ),
    (">=0.2", &[("0.2", true)]),
    (">=0.2.7", &[("0.2.7", true)]),
    (
        ">=1",
        &[
            ("1", true),
            ("1.0", true),
            ("1.0.0", true),
            ("1.0.6", true),
            ("0.0", false),
            ("0.0.1", false),
        ],
    ),
    (
        ">=1.6",
        &[("1.3", false), ("1.3.8", false), ("1.35.8", true)],
    ),
    (">=1.6.3", &[("1.7.8", true)]),
    (">=1.22.3", &[("1.7.8", false)]),
    (">=0.22.3", &[("1.7.8", true)]),
];

#[test]
fn the_reference_librarys_unit_tests() {
    let mut n = 0;
    for (req, cases) in REFERENCE {
        let c = Constraint::parse(req).unwrap_or_else(|e| panic!("{e}"));
        for (v, want) in *cases {
            let v = Version::parse(v).unwrap();
            assert_eq!(c.allows(&v), *want, "{req} allows {v}");
            n += 1;
        }
    }
    // Every pair reference-behaviour.md §3.1 lists from the upstream tests.
    assert_eq!(n, 120);
}

/// The note's documented semantics (poetry-constraints.md), pair by pair.
#[test]
fn documented_semantics() {
    use Verdict::*;
    let table: &[(&str, &str, Verdict)] = &[
        // Extra probes of reference-behaviour.md §3.1.
        ("1.2.0", "1.2", True),
        ("1.2", "1.2.0", True),
        (">=1.0", "1.0.0rc1", False),
        (">=0.9", "1.0.0rc1", True),
        ("^1.0", "2.0.0rc1", False),
        (">=3.6 <4", "3.9", True),
        ("=1.5", "1.5", True),
        ("!=1.5", "1.5", False),
        ("x", "7", True),
        ("", "1", InvalidConstraint),
        ("saruman", "1", InvalidConstraint),
        (">=", "1", InvalidConstraint),
        ("^", "1", InvalidConstraint),
        (">=1", "8.0.36-0ubuntu0.22.04.1", InvalidVersion),
        ("v1.5", "1.5+local", True),
        // Pre-releases are not filtered; `<V` excludes V's pre and dev releases.
        (">=1.0", "1.1.0rc1", True),
        ("*", "0.1.dev0", True),
        ("^1.2", "1.3.0a1", True),
        ("<2.0", "2.0.0a1", False),
        ("<2.0", "2.0.dev0", False),
        ("<2.0rc1", "2.0a1", True),
        ("<2.0rc1", "2.0.dev5", True),
        ("<2.0.post1", "2.0.post1.dev0", False),
        ("<2.0+abc", "2.0a1", False),
        ("<=1.0", "1.0+x", True),
        ("<=1.0", "1.0.post1", False),
        ("<=1.0+abc", "1.0+abb", True),
        ("<=1.0+abc", "1.0+abd", False),
        (">1.0", "1.0.post1", False),
        (">1.0", "1.0+x", False),
        (">1.0a1", "1.0a1.post1", False),
        (">=1.0+abc", "1.0", False),
        (">=1.0+abc", "1.0+abb", False),
        ("==1.0", "1.0+abc", True),
        ("==1.0+a.b", "1.0+A-B", True),
        // `!=` alone vs inside an AND.
        ("!=1.0", "1.0a1", True),
        ("!=1.0", "1.0.dev1", True),
        ("!=1.0", "1.0.post1", True),
        ("!=1.0", "1.0+x", False),
        (">=0.5,!=1.0", "1.0.post1", False),
        (">=0.5,!=1.0", "1.0a1", True),
        ("!=1.0,!=2.0", "1.0.post1", False),
        ("<1.0 || >1.0", "1.0a1", False),
        ("<1.0 || >1.0", "1.0.post1", False),
        // Wildcards.
        ("1.2.*", "1.2.0a1", True),
        ("1.2.*", "1.2.dev0", True),
        ("1.2.*", "1.2.9.post1", True),
        ("1.2.*", "1.2+x", True),
        ("1.2.*", "1.3.dev0", False),
        ("!=1.2.*", "1.3.dev0", True),
        ("1.0a1.*", "1.0a1.dev0", True),
        ("1.0a1.*", "1.0a2.dev0", False),
        ("1.0+abc.*", "1.0.5", True),
        (">=1.2.*", "1.2", True),
        ("1.*.*", "1.9", True),
        ("1.2.3.4.*.*", "1", InvalidConstraint),
        ("1.x", "1", InvalidConstraint),
        // Caret, tilde and compatible release.
        ("^0.0", "0.0.9", True),
        ("^0.0.0.1", "0.0.0.9", True),
        ("^1.0a1", "1.5", True),
        ("^1.2", "1.2.0a1", False),
        ("^1.0+abc", "1.0", False),
        ("~1.2.3.4", "1.2.9", True),
        ("~=1.2", "1.9", True),
        ("~=1.2.3", "1.3.0", False),
        ("~=1.2.3.4", "1.2.4.0", False),
        ("~=1.2.3.4", "1.2.3.9", True),
        ("~=1", "1.9", True),
        ("~=1.2.post1", "1.2", False),
        ("^1!1.0", "1.5", False),
        ("<1!0", "5.0", True),
        ("^1.0 || ^2.0", "2.0a1", False),
        // Operators and grammar corners.
        ("<>1.0", "1.0", True),
        ("<>1.0", "2.0", False),
        ("dev", "0.0.dev0", True),
        ("DEV", "0.0.dev0", InvalidConstraint),
        (">2,<1", "1.5", False),
        ("1.0,2.0", "1.0", False),
        (">=1.0,,", "1.0", True),
        (">=1.0, ,", "1.0", InvalidConstraint),
        (">=1.0,,<2.0", "1.0", InvalidConstraint),
        ("1.0 - 2.0", "1.0", InvalidConstraint),
        ("> = 1.0", "1.0", InvalidConstraint),
        (">=1.0\u{a0}<2.0", "1.0", InvalidConstraint),
        (">=\u{a0}1.0", "1.0", True),
        ("1.0\u{a0}||\u{a0}2.0", "2.0", True),
        (">=1 ||", "1", InvalidConstraint),
        ("a ||| b", "1", InvalidConstraint),
        ("1.0\n 2.0", "1.0", False),
        // Versions.
        (">=1", "18446744073709551616", True),
        ("<18446744073709551616", "18446744073709551615", True),
        ("==1.0", "01.00", True),
        ("==1!0.5", "0.5", False),
        (">9.0", "1!0.5", True),
        ("==1.0a1", "1.0A1", False),
        ("<1.0", "1.0.DEV0", True),
        ("*", "\u{ff11}.0", InvalidVersion),
        ("*", "1.0+\u{212a}", InvalidVersion),
        ("*", "1.0.po\u{17f}t1", InvalidVersion),
        ("*", " \u{3000}1.0\n", True),
    ];
    for (c, v, want) in table {
        assert_eq!(verdict(c, v), *want, "({c:?}, {v:?})");
    }
}

#[test]
fn numbers_past_cpythons_digit_limit_are_invalid() {
    let ok = "9".repeat(4300);
    let too_long = "9".repeat(4301);
    assert_eq!(verdict("*", &ok), Verdict::True);
    assert_eq!(verdict("*", &too_long), Verdict::InvalidVersion);
    assert_eq!(
        verdict(&format!(">={too_long}"), "1"),
        Verdict::InvalidConstraint
    );
    assert_eq!(
        verdict("*", &format!("1.0+{too_long}")),
        Verdict::InvalidVersion
    );
    assert_eq!(verdict("*", &format!("1.0+a{too_long}")), Verdict::True);
}

#[test]
fn errors_say_what_and_where() {
    for (input, message) in [
        (
            ">=1.0,<",
            r#"invalid constraint ">=1.0,<": expected a version after "<" at byte 7"#,
        ),
        (
            "",
            r#"invalid constraint "": expected a constraint, found nothing at byte 0"#,
        ),
        (
            "saruman",
            r#"invalid constraint "saruman": expected a version, an operator (== != < <= > >= ~ ~= ^) or "*", found 's' at byte 0"#,
        ),
        (
            ">=1 || ",
            r#"invalid constraint ">=1 || ": expected a constraint after the last "|" at byte 6"#,
        ),
        (
            "^1.0.*",
            r#"invalid constraint "^1.0.*": a wildcard ".*" cannot follow "^" at byte 4"#,
        ),
        (
            ">=1.0 <2.0x",
            r#"invalid constraint ">=1.0 <2.0x": unexpected 'x' after the version "2.0" at byte 10"#,
        ),
        (
            "DEV",
            r#"invalid constraint "DEV": expected "dev" in lowercase, found "DEV" at byte 0"#,
        ),
    ] {
        let err = Constraint::parse(input).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert!(err.byte <= input.len());
    }
    let err = Version::parse("1.0 1").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid version "1.0 1": unexpected ' ' at byte 3"#
    );
}

#[test]
fn normalised_text() {
    for (input, text) in [
        (">=1.0,<2.0", ">=1.0,<2.0"),
        ("!=1.0", "!=1.0"),
        ("^1.2", ">=1.2,<2.0"),
        ("1.2.*", "==1.2.*"),
        ("!=1.2.*", "!=1.2.*"),
        (">1,!=2", ">1,!=2"),
        ("==1.0", "1.0"),
        ("x", "*"),
        (">2,<1", "<empty>"),
        ("^1.0 || ^2.0", ">=1.0,<2.0 || >=2.0,<3.0"),
        ("~=1.2.post1", ">=1.2.post1,<2.0"),
    ] {
        assert_eq!(
            Constraint::parse(input).unwrap().to_string(),
            text,
            "{input}"
        );
    }
}
