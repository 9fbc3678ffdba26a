//! Property tests: no input makes parsing, `allows` or display panic or hang. Inputs come
//! from three sources: any Unicode text, bytes decoded lossily, and sequences of the
//! grammar's own tokens (which reach much deeper than random text).
//! `cargo fuzz` (crates/poetry-constraints/fuzz) runs the same checks coverage-guided.

use poetry_constraints::{verdict, Constraint, Version};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "0",
    "1",
    "2",
    "9",
    "10",
    "01",
    "18446744073709551616",
    ".",
    "*",
    ".*",
    "x",
    "v",
    "!",
    "1!",
    "a",
    "alpha",
    "b",
    "rc",
    "c",
    "pre",
    "preview",
    "post",
    "r",
    "rev",
    "dev",
    "DEV",
    "A",
    "-",
    "_",
    "+",
    "abc",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "=",
    "!=",
    "<>",
    "~",
    "~=",
    "^",
    ",",
    " ",
    "  ",
    "|",
    "||",
    "\t",
    "\n",
    "\u{a0}",
    "\u{3000}",
    "\u{1c}",
    "\u{212a}",
    "\u{661}",
    "\u{ff11}",
];

fn exercise(c: &str, v: &str) {
    let _ = verdict(c, v);
    if let Ok(parsed) = Constraint::parse(c) {
        let text = parsed.to_string();
        // The normalised text is itself printable and re-parses without panicking.
        let _ = Constraint::parse(&text);
        let _ = parsed.is_any();
        let _ = parsed.is_empty();
    }
    if let Ok(version) = Version::parse(v) {
        let _ = Version::parse(&version.to_string()).expect("a version's text re-parses");
    }
}

fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn grammar_tokens(c in tokens(), v in tokens()) {
        exercise(&c, &v);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn any_text(c in any::<String>(), v in any::<String>()) {
        exercise(&c, &v);
    }

    #[test]
    fn any_bytes(c in prop::collection::vec(any::<u8>(), 0..64), v in prop::collection::vec(any::<u8>(), 0..32)) {
        exercise(&String::from_utf8_lossy(&c), &String::from_utf8_lossy(&v));
    }
}

#[test]
fn large_inputs_terminate() {
    let spaces = format!("1{}2", " ".repeat(200_000));
    let _ = verdict(&spaces, "1");
    let commas = format!("1{},", " ".repeat(200_000));
    let _ = verdict(&commas, "1");
    let many_atoms = vec![">=1"; 20_000].join(",");
    assert_eq!(verdict(&many_atoms, "2").as_str(), "true");
    let many_ors = vec!["==1"; 5_000].join(" || ");
    assert_eq!(verdict(&many_ors, "1").as_str(), "true");
    let holes = (0..2_000)
        .map(|i| format!("!={i}"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(verdict(&holes, "5000").as_str(), "true");
    let long_release = vec!["1"; 100_000].join(".");
    assert_eq!(verdict(">=1", &long_release).as_str(), "true");
    let digits = "9".repeat(4300);
    assert_eq!(verdict(&format!("<{digits}"), &digits).as_str(), "false");
}
