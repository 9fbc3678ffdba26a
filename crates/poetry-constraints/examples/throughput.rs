//! parse + allows throughput on a corpus, as one JSON line: the number BENCHMARKS.md sets
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
    let mut best = f64::INFINITY;
    let mut allowed = 0usize;
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
    }
    println!(
        "{{\"pairs\": {}, \"allowed\": {allowed}, \"seconds\": {best}, \"pairs_per_second\": {}}}",
        pairs.len(),
        pairs.len() as f64 / best
    );
}
