//! The fake hook tools: one multi-call program that acts as the tool it is called as
//! (`basename(argv[0])`), like Juju's `jujuc`. It reads the dispatch's [`ToolContext`]
//! (`JUJU_SIM_CONTEXT`), answers reads from it plus this dispatch's own buffered writes
//! (read-your-writes), appends every call and write to the journal, and prints what Juju
//! prints: compact JSON with sorted keys and Go's HTML escapes, `ERROR <message>` on stderr,
//! exit 2 for argument errors and 1 for run errors.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::wire::{Bag, Entry, ToolContext};

/// The tools this program answers to.
pub const TOOLS: &[&str] = &[
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "is-leader",
    "status-set",
    "status-get",
    "state-get",
    "state-set",
    "state-delete",
    "juju-log",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "application-version-set",
    "goal-state",
    "config-get",
];

/// A tool's failure: exit code and message (printed as `ERROR <message>`).
#[derive(Debug)]
struct Fail(i32, String);

fn usage(msg: impl Into<String>) -> Fail {
    Fail(2, msg.into())
}

fn run_err(msg: impl Into<String>) -> Fail {
    Fail(1, msg.into())
}

/// Parsed arguments: flags (by name, without dashes) and positionals.
#[derive(Default)]
struct Args {
    flags: BTreeMap<String, String>,
    positional: Vec<String>,
}

/// gnuflag-like parsing: interspersed flags, `--x=v` / `--x v` / `-r v`, `--` ends flags, a
/// lone `-` is positional. `valued` lists the flags that take a value; `booleans` those
/// that do not (they accept `=true/false`).
fn parse(argv: &[String], valued: &[&str], booleans: &[&str]) -> Result<Args, Fail> {
    let mut out = Args::default();
    let mut i = 0;
    let mut flags_done = false;
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        if flags_done || a == "-" || !a.starts_with('-') {
            out.positional.push(a.clone());
            continue;
        }
        if a == "--" {
            flags_done = true;
            continue;
        }
        let body = a.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (body.to_owned(), None),
        };
        if valued.contains(&name.as_str()) {
            let value = match inline {
                Some(v) => v,
                None => {
                    let Some(v) = argv.get(i) else {
                        return Err(usage(format!("option needs an argument: {a}")));
                    };
                    i += 1;
                    v.clone()
                }
            };
            out.flags.insert(name, value);
        } else if booleans.contains(&name.as_str()) {
            let value = match inline.as_deref() {
                None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => "true",
                Some("0" | "f" | "F" | "false" | "FALSE" | "False") => "false",
                Some(v) => {
                    return Err(usage(format!(
                        "invalid value {v:?} for option {a}: parse error"
                    )))
                }
            };
            out.flags.insert(name, value.to_owned());
        } else {
            return Err(usage(format!("option provided but not defined: {a}")));
        }
    }
    Ok(out)
}

/// Go's `json.Marshal` plus a newline: compact, sorted keys (`BTreeMap`), `<>&` escaped.
fn go_json(v: &impl serde::Serialize) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let s = s
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!("{s}\n")
}

struct Tool {
    ctx: ToolContext,
    journal: Vec<Entry>,
}

impl Tool {
    fn append(&mut self, e: Entry) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.ctx.journal)
        {
            let _ = writeln!(f, "{}", serde_json::to_string(&e).unwrap_or_default());
        }
        self.journal.push(e);
    }

    fn relation_arg(&self, args: &Args) -> Result<(), Fail> {
        let Some(r) = args.flags.get("r").or(args.flags.get("relation")) else {
            return Err(usage("no relation id specified"));
        };
        let id = r.rsplit(':').next().unwrap_or_default();
        let ours = self
            .ctx
            .relation
            .as_deref()
            .and_then(|rel| rel.rsplit(':').next());
        if Some(id) != ours {
            return Err(usage(format!(
                "invalid value {r:?} for option -r: relation not found"
            )));
        }
        Ok(())
    }

    /// The unit bag as this dispatch sees it (own writes included).
    fn unit_bag(&self, unit: &str) -> Bag {
        let mut bag = self.ctx.bags.get(unit).cloned().unwrap_or_default();
        if unit == self.ctx.unit {
            for e in &self.journal {
                if let Entry::RelationSet { app: false, data } = e {
                    apply(&mut bag, data);
                }
            }
        }
        bag
    }

    fn app_bag(&self) -> Bag {
        let mut bag = self.ctx.app_bag.clone();
        if self.ctx.leader {
            for e in &self.journal {
                if let Entry::RelationSet { app: true, data } = e {
                    apply(&mut bag, data);
                }
            }
        }
        bag
    }

    fn charm_state(&self) -> Option<Bag> {
        let mut state = self.ctx.charm_state.clone();
        for e in &self.journal {
            match e {
                Entry::StateSet { data } => state.get_or_insert_with(Bag::new).extend(data.clone()),
                Entry::StateDelete { key } => {
                    if let Some(s) = state.as_mut() {
                        s.remove(key);
                    }
                }
                _ => {}
            }
        }
        state
    }

    fn read_file_arg(&self, args: &Args) -> Result<Bag, Fail> {
        let mut data = Bag::new();
        if let Some(file) = args.flags.get("file") {
            let mut text = String::new();
            if file == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| run_err(e.to_string()))?;
            } else {
                text = std::fs::read_to_string(file).map_err(|e| run_err(e.to_string()))?;
            }
            data.extend(parse_settings(&text)?);
        }
        for kv in &args.positional {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(usage(format!("expected \"key=value\", got {kv:?}")));
            };
            data.insert(k.to_owned(), v.to_owned());
        }
        Ok(data)
    }

    fn run(&mut self, tool: &str, argv: &[String]) -> Result<String, Fail> {
        let calls = self
            .journal
            .iter()
            .filter(|e| matches!(e, Entry::Call { .. }))
            .count();
        self.append(Entry::Call {
            tool: tool.to_owned(),
            args: argv.to_vec(),
        });
        if let Some(n) = self.ctx.kill_after_calls {
            if calls + 1 >= n {
                self.append(Entry::Fault {
                    what: format!("dispatch killed at tool call {n} ({tool})"),
                });
                // SAFETY: sending SIGKILL to our parent (the dispatch) is the injected fault.
                unsafe { libc::kill(libc::getppid(), libc::SIGKILL) };
                return Err(run_err("connection is shut down"));
            }
        }
        if self.ctx.fail_tool_once.as_deref() == Some(tool)
            && !self
                .journal
                .iter()
                .any(|e| matches!(e, Entry::Fault { .. }))
        {
            self.append(Entry::Fault {
                what: format!("{tool} failed once (tool call {})", calls + 1),
            });
            return Err(run_err("connection is shut down"));
        }
        let format_flags = ["format", "o", "output"];
        match tool {
            "relation-ids" => {
                let a = parse(argv, &format_flags, &[])?;
                let Some(endpoint) = a.positional.first() else {
                    return Err(usage("no endpoint name specified"));
                };
                let ids: Vec<&String> = self
                    .ctx
                    .relation
                    .iter()
                    .filter(|r| r.split(':').next() == Some(endpoint.as_str()))
                    .collect();
                Ok(go_json(&ids))
            }
            "relation-list" => {
                let a = parse(argv, &["format", "o", "output", "r", "relation"], &["app"])?;
                self.relation_arg(&a)?;
                if a.flags.get("app").map(String::as_str) == Some("true") {
                    return Ok(go_json(&self.ctx.app));
                }
                Ok(go_json(&self.ctx.members))
            }
            "relation-get" => {
                let a = parse(argv, &["format", "o", "output", "r", "relation"], &["app"])?;
                self.relation_arg(&a)?;
                let app = a.flags.get("app").map(String::as_str) == Some("true");
                let key = a.positional.first().cloned().unwrap_or_else(|| "-".into());
                let Some(member) = a.positional.get(1).cloned() else {
                    return Err(usage("no unit or application specified"));
                };
                let bag = if app {
                    let member_app = member.split('/').next().unwrap_or_default();
                    if member_app != self.ctx.app {
                        return Err(run_err("permission denied"));
                    }
                    self.app_bag()
                } else {
                    if !member.contains('/') {
                        return Err(usage(format!(
                            "expected unit name, got application name {member:?}"
                        )));
                    }
                    if member != self.ctx.unit
                        && !self.ctx.members.contains(&member)
                        && !self.ctx.departed.contains(&member)
                    {
                        return Err(run_err(format!(
                            "cannot read settings for unit {member:?}: permission denied"
                        )));
                    }
                    self.unit_bag(&member)
                };
                if key == "-" {
                    Ok(go_json(&bag))
                } else {
                    Ok(go_json(&bag.get(&key)))
                }
            }
            "relation-set" => {
                let a = parse(argv, &["r", "relation", "file", "format"], &["app"])?;
                self.relation_arg(&a)?;
                let app = a.flags.get("app").map(String::as_str) == Some("true");
                if app && !self.ctx.leader {
                    return Err(run_err("cannot write relation settings"));
                }
                let data = self.read_file_arg(&a)?;
                self.append(Entry::RelationSet { app, data });
                Ok(String::new())
            }
            "is-leader" => {
                parse(argv, &format_flags, &[])?;
                Ok(go_json(&self.ctx.leader))
            }
            "status-set" => {
                let a = parse(argv, &[], &["application"])?;
                let app = a.flags.get("application").map(String::as_str) == Some("true");
                let Some(status) = a.positional.first() else {
                    return Err(usage("invalid args, require <status> [message] [data]"));
                };
                if !["maintenance", "blocked", "waiting", "active"].contains(&status.as_str()) {
                    return Err(usage(format!(
                        "invalid status {status:?}, expected one of [maintenance blocked waiting active]"
                    )));
                }
                if a.positional.len() > 2 {
                    return Err(usage(format!(
                        "unrecognized args: {:?}",
                        &a.positional[2..]
                    )));
                }
                if app && !self.ctx.leader {
                    return Err(run_err("this unit is not the leader"));
                }
                let message = a.positional.get(1).cloned().unwrap_or_default();
                self.append(Entry::StatusSet {
                    app,
                    status: status.clone(),
                    message,
                });
                Ok(String::new())
            }
            "status-get" => {
                parse(argv, &format_flags, &["include-data", "application"])?;
                let (status, message) = self.ctx.unit_status.clone();
                Ok(go_json(&serde_json::json!({
                    "message": message, "status": status, "status-data": {}
                })))
            }
            "state-get" => {
                let a = parse(argv, &format_flags, &["strict"])?;
                let state = self.charm_state();
                match a.positional.first().map(String::as_str) {
                    None | Some("-") => Ok(go_json(&state)),
                    Some(key) => Ok(go_json(
                        &state.and_then(|s| s.get(key).cloned()).unwrap_or_default(),
                    )),
                }
            }
            "state-set" => {
                let a = parse(argv, &["file"], &[])?;
                let data = self.read_file_arg(&a)?;
                self.append(Entry::StateSet { data });
                Ok(String::new())
            }
            "state-delete" => {
                let a = parse(argv, &[], &[])?;
                let Some(key) = a.positional.first() else {
                    return Err(usage("no key specified"));
                };
                self.append(Entry::StateDelete { key: key.clone() });
                Ok(String::new())
            }
            "juju-log" => {
                let a = parse(argv, &["log-level", "l", "format"], &["debug"])?;
                let level = if a.flags.get("debug").map(String::as_str) == Some("true") {
                    "DEBUG".to_owned()
                } else {
                    a.flags
                        .get("log-level")
                        .or(a.flags.get("l"))
                        .cloned()
                        .unwrap_or_else(|| "INFO".into())
                };
                if a.positional.is_empty() {
                    return Err(usage("no message specified"));
                }
                let message = a.positional.join(" ");
                self.append(Entry::Log { level, message });
                Ok(String::new())
            }
            "action-get" => {
                parse(argv, &format_flags, &[])?;
                let Some(action) = &self.ctx.action else {
                    return Err(run_err("not running an action"));
                };
                Ok(go_json(&action.params))
            }
            "action-set" => {
                let a = parse(argv, &[], &[])?;
                if self.ctx.action.is_none() {
                    return Err(run_err("not running an action"));
                }
                let mut data = Bag::new();
                for kv in &a.positional {
                    let Some((k, v)) = kv.split_once('=') else {
                        return Err(usage(format!(
                            "argument {kv:?} must be of the form key...=value"
                        )));
                    };
                    if ["stdout", "stdout-encoding", "stderr", "stderr-encoding"].contains(&k) {
                        return Err(usage(format!("cannot set reserved action key {k:?}")));
                    }
                    data.insert(k.to_owned(), v.to_owned());
                }
                self.append(Entry::ActionSet { data });
                Ok(String::new())
            }
            "action-fail" => {
                let a = parse(argv, &[], &[])?;
                if self.ctx.action.is_none() {
                    return Err(run_err("not running an action"));
                }
                let message = a.positional.first().cloned().unwrap_or_else(|| {
                    "action failed without reason given, check action for errors".into()
                });
                self.append(Entry::ActionFail { message });
                Ok(String::new())
            }
            "action-log" => {
                let a = parse(argv, &[], &[])?;
                if self.ctx.action.is_none() {
                    return Err(run_err("not running an action"));
                }
                self.append(Entry::ActionLog {
                    message: a.positional.join(" "),
                });
                Ok(String::new())
            }
            "application-version-set" => {
                let a = parse(argv, &[], &[])?;
                let Some(version) = a.positional.first() else {
                    return Err(usage("no version specified"));
                };
                self.append(Entry::AppVersion {
                    version: version.clone(),
                });
                Ok(String::new())
            }
            "goal-state" => {
                parse(argv, &format_flags, &[])?;
                let units: BTreeMap<&String, serde_json::Value> = self
                    .ctx
                    .goal_units
                    .iter()
                    .map(|(u, s)| {
                        (
                            u,
                            serde_json::json!({"since": "2026-11-24 10:00:00Z", "status": s}),
                        )
                    })
                    .collect();
                Ok(go_json(
                    &serde_json::json!({"relations": {}, "units": units}),
                ))
            }
            "config-get" => {
                parse(argv, &format_flags, &["all", "a"])?;
                Ok(go_json(&self.ctx.config))
            }
            other => Err(run_err(format!("unknown command {other:?}"))),
        }
    }
}

fn apply(bag: &mut Bag, data: &Bag) {
    for (k, v) in data {
        if v.is_empty() {
            bag.remove(k);
        } else {
            bag.insert(k.clone(), v.clone());
        }
    }
}

/// Runs as the hook tool `tool`; returns the exit code.
pub fn main(tool: &str, argv: &[String]) -> i32 {
    let ctx: Option<ToolContext> = std::env::var("JUJU_SIM_CONTEXT")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    let Some(ctx) = ctx else {
        eprintln!("ERROR JUJU_CONTEXT_ID not set or not valid: not running in a simulated hook");
        return 1;
    };
    let journal = std::fs::read_to_string(&ctx.journal)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
                .collect()
        })
        .unwrap_or_default();
    let mut t = Tool { ctx, journal };
    match t.run(tool, argv) {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(Fail(code, msg)) => {
            eprintln!("ERROR {msg}");
            code
        }
    }
}

/// The settings of `relation-set --file`: a YAML map (JSON is YAML; ops sends
/// `yaml.safe_dump` output), as Juju reads it. Scalars become their text, null the empty
/// string (which deletes the key).
fn parse_settings(text: &str) -> Result<Bag, Fail> {
    let mut data = Bag::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) {
        for (k, v) in map {
            let v = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            data.insert(k, v);
        }
        return Ok(data);
    }
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
        .map_err(|e| run_err(format!("cannot parse settings: {e}")))?;
    let map = match v {
        serde_yaml_ng::Value::Mapping(m) => m,
        serde_yaml_ng::Value::Null => return Ok(data),
        _ => return Err(run_err("expected a map of settings")),
    };
    let text_of = |v: serde_yaml_ng::Value| -> Result<String, Fail> {
        Ok(match v {
            serde_yaml_ng::Value::String(s) => s,
            serde_yaml_ng::Value::Null => String::new(),
            serde_yaml_ng::Value::Bool(b) => b.to_string(),
            serde_yaml_ng::Value::Number(n) => n.to_string(),
            _ => return Err(run_err("settings values must be scalars")),
        })
    };
    for (k, v) in map {
        data.insert(text_of(k)?, text_of(v)?);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::parse_settings;

    #[test]
    fn settings_are_read_as_json_or_as_the_yaml_ops_sends() {
        let json = parse_settings(r#"{"state": "idle", "gone": null, "n": 3}"#).unwrap();
        assert_eq!(json["state"], "idle");
        assert_eq!(json["gone"], "");
        assert_eq!(json["n"], "3");
        // What PyYAML's safe_dump makes of a long JSON value: a folded single-quoted scalar.
        let yaml = "dependencies: '{\"workload\": {\"dependencies\": {}, \"name\": \"upgrade-reference-workload\",\n  \"upgrade_supported\": \">=1.0\", \"version\": \"1.0.0\"}}'\nupgrade-stack: '[0, 1, 2]'\n";
        let got = parse_settings(yaml).unwrap();
        assert_eq!(got["upgrade-stack"], "[0, 1, 2]");
        assert_eq!(
            got["dependencies"],
            r#"{"workload": {"dependencies": {}, "name": "upgrade-reference-workload", "upgrade_supported": ">=1.0", "version": "1.0.0"}}"#
        );
        assert!(parse_settings("- a\n- b\n").is_err());
    }
}
