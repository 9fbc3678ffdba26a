//! A multi-call fake of Juju's hook tools for benchmarks: answers from a world file
//! (`FAKE_JUJU_WORLD`, JSON) by the name it was called as, accepts every write, and appends
//! one line per call to `FAKE_JUJU_LOG`: `<tool> <user µs> <system µs> <max RSS KiB>` of its
//! own process, so the harness can subtract the tools' cost from a dispatch's.
//! Argument order is free (ops puts `--format=json` last, we put it first).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::Deserialize;

#[derive(Deserialize)]
struct World {
    unit: String,
    leader: bool,
    relation: Option<String>,
    units: BTreeMap<String, BTreeMap<String, String>>,
    app: BTreeMap<String, String>,
    planned_units: usize,
}

fn rusage_line(tool: &str) -> String {
    // SAFETY: getrusage writes into the zeroed struct we pass; no other invariants.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    format!(
        "{tool} {} {} {}\n",
        us(ru.ru_utime),
        us(ru.ru_stime),
        ru.ru_maxrss
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tool = std::path::Path::new(&args[0])
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest = &args[1..];
    let world: World = std::env::var("FAKE_JUJU_WORLD")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .expect("FAKE_JUJU_WORLD names a readable world file");
    let app = world.unit.split('/').next().unwrap_or_default().to_owned();
    let out = match tool.as_str() {
        "relation-ids" => {
            serde_json::to_string(&world.relation.iter().collect::<Vec<_>>()).unwrap()
        }
        "relation-list" => serde_json::to_string(
            &world
                .units
                .keys()
                .filter(|u| **u != world.unit)
                .collect::<Vec<_>>(),
        )
        .unwrap(),
        "relation-get" => {
            let wants_app = rest.iter().any(|a| a == "--app");
            let name = rest
                .iter()
                .rev()
                .find(|a| !a.starts_with('-') && !a.contains(':') && a.parse::<u64>().is_err())
                .cloned()
                .unwrap_or_default();
            if wants_app || name == app {
                serde_json::to_string(&world.app).unwrap()
            } else {
                serde_json::to_string(&world.units.get(&name).cloned().unwrap_or_default()).unwrap()
            }
        }
        "is-leader" => world.leader.to_string(),
        "goal-state" => {
            let units: BTreeMap<String, serde_json::Value> = (0..world.planned_units)
                .map(|i| {
                    (
                        format!("{app}/{i}"),
                        serde_json::json!({"status": "active", "since": "2026-11-24 10:00:00Z"}),
                    )
                })
                .collect();
            serde_json::json!({"units": units, "relations": {}}).to_string()
        }
        "state-get" => "null".into(),
        "config-get" | "action-get" => "{}".into(),
        _ => {
            // Writes: read stdin like jujuc does, answer nothing.
            if rest.iter().any(|a| a == "-") && rest.iter().any(|a| a == "--file") {
                let mut sink = String::new();
                let _ = std::io::stdin().read_to_string(&mut sink);
            }
            String::new()
        }
    };
    if !out.is_empty() {
        println!("{out}");
    }
    if let Ok(log) = std::env::var("FAKE_JUJU_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = f.write_all(rusage_line(&tool).as_bytes());
        }
    }
}
