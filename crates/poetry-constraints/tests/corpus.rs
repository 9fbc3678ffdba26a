//! Differential test: poetry-core 2.5.0 labelled every pair of the corpus
//! (`scripts/poetry_oracle.py corpus --seed 1 --count 30000`); we must agree on every one,
//! verdict and normalised text alike. Set `POETRY_CORPUS=<file.jsonl>` to check another
//! corpus (any seed) as well; a relative path is taken from the workspace's root (cargo runs
//! the test in this crate's directory).

use poetry_constraints::{verdict, Checker, Constraint};

#[derive(serde::Deserialize)]
struct Row {
    c: String,
    v: String,
    r: String,
    s: Option<String>,
}

fn check(path: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut failures = Vec::new();
    let mut n = 0;
    let mut checker = Checker::with_limit(1000);
    for (i, line) in text.lines().enumerate() {
        let row: Row =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1));
        n += 1;
        let got = verdict(&row.c, &row.v);
        // The memoising checker (a small limit, so that it also starts afresh often).
        let remembered = checker.verdict(&row.c, &row.v);
        if remembered != got {
            failures.push(format!(
                "line {}: ({:?}, {:?}) Checker says {remembered}, verdict says {got}",
                i + 1,
                row.c,
                row.v
            ));
        }
        if got.as_str() != row.r {
            failures.push(format!(
                "line {}: ({:?}, {:?}) poetry-core says {}, we say {}",
                i + 1,
                row.c,
                row.v,
                row.r,
                got
            ));
            continue;
        }
        if let Some(s) = &row.s {
            let ours = Constraint::parse(&row.c).map(|c| c.to_string());
            if ours.as_deref() != Ok(s.as_str()) {
                failures.push(format!(
                    "line {}: {:?} poetry-core prints {:?}, we print {:?}",
                    i + 1,
                    row.c,
                    s,
                    ours
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} pairs disagree with poetry-core:\n{}",
        failures.len(),
        failures
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    n
}

#[test]
fn checked_in_corpus_agrees_with_poetry_core() {
    let n = check(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/corpus-seed1.jsonl"
    ));
    assert!(n >= 20_000, "the corpus has only {n} pairs");
}

#[test]
fn extra_corpus_from_the_environment() {
    if let Some(path) = std::env::var_os("POETRY_CORPUS") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path);
        check(&path.to_string_lossy());
    }
}
