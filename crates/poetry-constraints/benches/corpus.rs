//! Throughput of parse + allows on the checked-in corpus (30,000 pairs, valid and invalid),
//! the measure BENCHMARKS.md compares with poetry-core. Run: `cargo bench -p poetry-constraints`.

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use poetry_constraints::{verdict, Constraint, Version};

fn main() {
    divan::main();
}

fn corpus() -> Vec<(String, String)> {
    let text = include_str!("../tests/data/corpus-seed1.jsonl");
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("corpus line");
            (
                v["c"].as_str().expect("c").to_owned(),
                v["v"].as_str().expect("v").to_owned(),
            )
        })
        .collect()
}

/// `parse_constraint(c).allows(Version.parse(v))` for every pair.
#[divan::bench(sample_count = 20)]
fn parse_and_allows(bencher: Bencher) {
    let pairs = corpus();
    bencher.counter(ItemsCount::new(pairs.len())).bench(|| {
        for (c, v) in &pairs {
            black_box(verdict(black_box(c), black_box(v)));
        }
    });
}

/// Constraint parsing alone.
#[divan::bench(sample_count = 20)]
fn parse_constraints(bencher: Bencher) {
    let pairs = corpus();
    bencher.counter(ItemsCount::new(pairs.len())).bench(|| {
        for (c, _) in &pairs {
            let _ = black_box(Constraint::parse(black_box(c)));
        }
    });
}

/// Version parsing alone.
#[divan::bench(sample_count = 20)]
fn parse_versions(bencher: Bencher) {
    let pairs = corpus();
    bencher.counter(ItemsCount::new(pairs.len())).bench(|| {
        for (_, v) in &pairs {
            let _ = black_box(Version::parse(black_box(v)));
        }
    });
}
