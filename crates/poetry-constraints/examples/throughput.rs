//! parse + allows throughput on a corpus, uncached and with poetry-core's parse caches, as
//! one JSON line: the number BENCHMARKS.md sets
//! beside poetry-core's (`scripts/bench-ratio.sh` runs both).
//! Usage: cargo run --release -p poetry-constraints --example throughput [CORPUS] [ROUNDS]

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/corpus-seed1.jsonl").to_owned()
    });
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(20);
    let text = std::fs::read_to_string(&path).expect("read the corpus");
    let pairs: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("corpus line");
            (
                v["c"].as_str().unwrap().to_owned(),
                v["v"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Every pair parsed afresh (`verdict`), and with the parse caches poetry-core ships
    // (`Checker`, emptied before each round as the Python side clears its caches).
    let mut best = f64::INFINITY;
    let mut best_cached = f64::INFINITY;
    let mut allowed = 0usize;
    let mut allowed_cached = 0usize;
    let mut checker = poetry_constraints::Checker::new();
    for _ in 0..rounds {
        allowed = 0;
        let start = Instant::now();
        for (c, v) in &pairs {
            if poetry_constraints::verdict(std::hint::black_box(c), std::hint::black_box(v))
                == poetry_constraints::Verdict::True
            {
                allowed += 1;
            }
        }
        best = best.min(start.elapsed().as_secs_f64());

        allowed_cached = 0;
        checker.clear();
        let start = Instant::now();
        for (c, v) in &pairs {
            if checker.verdict(std::hint::black_box(c), std::hint::black_box(v))
                == poetry_constraints::Verdict::True
            {
                allowed_cached += 1;
            }
        }
        best_cached = best_cached.min(start.elapsed().as_secs_f64());
    }
    assert_eq!(allowed, allowed_cached, "the cache changed an answer");
    println!(
        "{{\"pairs\": {}, \"allowed\": {allowed}, \"seconds\": {best}, \"pairs_per_second\": {}, \"cached_seconds\": {best_cached}, \"cached_pairs_per_second\": {}}}",
        pairs.len(),
        pairs.len() as f64 / best,
        pairs.len() as f64 / best_cached
    );
}
