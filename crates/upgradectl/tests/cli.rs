//! The `upgradectl allows` command as charm authors and CI pipelines call it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_upgradectl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Feed stdin from another thread: the command writes while it reads, and a full
    // stdout pipe would otherwise block both sides.
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn single_pair_prints_and_exits_by_verdict() {
    let o = run(&["allows", ">=1.2,<2", "1.9"], b"");
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "true\n".into())
    );
    let o = run(&["allows", ">=1.2,<2", "2.0a1"], b"");
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(1), "false\n".into())
    );
    let o = run(&["allows", "^1.0", "-1"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("invalid version \"-1\""),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn invalid_input_exits_2_with_a_clear_message() {
    let o = run(&["allows", ">=1.0,<", "1.0"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert_eq!(
        text(&o.stderr),
        "upgradectl: invalid constraint \">=1.0,<\": expected a version after \"<\" at byte 7\n"
    );
    let o = run(&["allows", ">=1.0", "one"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).starts_with("upgradectl: invalid version \"one\""));
    // Missing arguments are a usage error.
    let o = run(&["allows", ">=1.0"], b"");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn batch_prints_one_stable_word_per_line() {
    let input = "\
>=1.0\t1.0
<2.0\t2.0a1
>=1.0,<\t1.0
>=1.0\tnot a version
bad\tbad
no tab here
^1.0\t1.5\r
\t1.0
";
    let o = run(&["allows", "--batch"], input.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "true\nfalse\ninvalid-constraint\ninvalid-version\ninvalid-constraint\ninvalid-constraint\ntrue\ninvalid-constraint\n"
    );
}

#[test]
fn batch_handles_non_utf8_and_a_missing_final_newline() {
    let o = run(&["allows", "--batch"], b">=1\t\xff\n\xfe\t1\n>=1\t2");
    assert_eq!(
        text(&o.stdout),
        "invalid-version\ninvalid-constraint\ntrue\n"
    );
}

#[test]
fn batch_agrees_with_the_checked_in_corpus() {
    #[derive(serde::Deserialize)]
    struct Row {
        c: String,
        v: String,
        r: String,
    }
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../poetry-constraints/tests/data/corpus-seed1.jsonl"
    ))
    .unwrap();
    // Only pairs the line format can carry (no tab or newline inside a field).
    let rows: Vec<Row> = corpus
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Row| !(r.c.contains(['\t', '\n', '\r']) || r.v.contains(['\t', '\n', '\r'])))
        .collect();
    let input: String = rows.iter().map(|r| format!("{}\t{}\n", r.c, r.v)).collect();
    let o = run(&["allows", "--batch"], input.as_bytes());
    let out = text(&o.stdout);
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), rows.len());
    for (row, word) in rows.iter().zip(got) {
        assert_eq!(word, row.r, "({:?}, {:?})", row.c, row.v);
    }
    assert!(rows.len() > 20_000);
}
