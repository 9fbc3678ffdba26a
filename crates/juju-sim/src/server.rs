//! A model's server: the process `juju add-model` starts (see [`crate::juju`]). It holds
//! one simulated model ([`Sim`]) with at most one application, runs the units' hooks in
//! the background (one hook at a time, as soon as one is due), and answers each `juju`
//! command over the model's Unix socket, one at a time, between two hooks.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use crate::charm::CharmSource;
use crate::juju::{parse, Request, Response, CONTROLLER, VERSION};
use crate::sim::{
    Agent, CharmFiles, Fault, Revision, Revisions, Schedule, Sim, SimConfig, Substrate, UnitView,
};

/// The request that stops the server (`juju destroy-model`).
pub const SHUTDOWN: &str = "__shutdown";

/// The hidden subcommand that runs a model's server (`juju add-model` starts it).
pub const SERVE: &str = "__serve-model";

/// A server with no request for this long ends (a model a crashed test never destroyed).
const IDLE_LIMIT: Duration = Duration::from_secs(2 * 3600);

/// The model a server holds.
struct Model {
    name: String,
    cloud: String,
    substrate: Substrate,
    dir: PathBuf,
    app: Option<App>,
    /// Task ids (`juju run`), as Juju numbers them.
    next_task: u64,
    last_request: Instant,
    /// The last error of the background hook runner, if any (shown by `status`).
    runner_error: Option<String>,
}

/// The application and its simulated units.
struct App {
    name: String,
    charm_name: String,
    sim: Sim,
    /// The charm revision the application is on, and the charms deployed so far (kept
    /// unpacked while the model lives).
    revision: u32,
    charms: Vec<CharmSource>,
    since: String,
}

impl App {
    fn charm(&self) -> &CharmSource {
        self.charms.last().expect("an application has a charm")
    }

    fn charm_url(&self) -> String {
        format!("local:{}-{}", self.charm_name, self.revision)
    }
}

/// Serves the model in `dir` until `juju destroy-model` (or two hours without a request).
pub fn serve(dir: &Path, name: &str, substrate: &str, cloud: &str) -> Result<()> {
    let substrate = match substrate {
        "vm" => Substrate::Vm,
        "k8s" => Substrate::K8s,
        other => anyhow::bail!("unknown substrate {other:?}"),
    };
    std::fs::create_dir_all(dir)?;
    write_sudo(dir)?;
    let sock = dir.join("sock");
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).with_context(|| format!("{}", sock.display()))?;
    listener.set_nonblocking(true)?;
    let model = Arc::new(Mutex::new(Model {
        name: name.to_owned(),
        cloud: cloud.to_owned(),
        substrate,
        dir: dir.to_owned(),
        app: None,
        next_task: 0,
        last_request: Instant::now(),
        runner_error: None,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let (model, stop) = (model.clone(), stop.clone());
        std::thread::spawn(move || run_hooks(&model, &stop))
    };
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, &model, &stop) {
                    eprintln!("juju-sim server: a request failed: {e:#}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let idle = lock(&model).last_request.elapsed();
                if idle > IDLE_LIMIT {
                    eprintln!(
                        "juju-sim server: no request for {} s, ending",
                        idle.as_secs()
                    );
                    stop.store(true, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let _ = runner.join();
    // Drop the model (its units' files, the Kubernetes API server) before saying so.
    lock(&model).app = None;
    let _ = std::fs::remove_file(&sock);
    Ok(())
}

fn lock(model: &Mutex<Model>) -> std::sync::MutexGuard<'_, Model> {
    model.lock().unwrap_or_else(|e| e.into_inner())
}

/// The unit agents: run the next due hook whenever there is one.
fn run_hooks(model: &Mutex<Model>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let ran = {
            let mut m = lock(model);
            match m.app.as_mut().map(|a| a.sim.advance()) {
                Some(Ok(ran)) => ran,
                Some(Err(e)) => {
                    m.runner_error = Some(format!("{e:#}"));
                    false
                }
                None => false,
            }
        };
        // (Between hooks the lock is free: a command waits at most one hook.)
        std::thread::sleep(Duration::from_millis(if ran { 1 } else { 20 }));
    }
}

fn answer(stream: UnixStream, model: &Mutex<Model>, stop: &AtomicBool) -> Result<()> {
    stream.set_nonblocking(false)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    if line.trim().is_empty() {
        return Ok(()); // (A client checking that the server is up.)
    }
    let req: Request = serde_json::from_str(&line).context("not a request")?;
    let resp = if req.args.first().map(String::as_str) == Some(SHUTDOWN) {
        stop.store(true, Ordering::SeqCst);
        Response::default()
    } else {
        let mut m = lock(model);
        m.last_request = Instant::now();
        // A command must never take the server down: a panic is its error.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.handle(&req))) {
            Ok(r) => r,
            Err(_) => {
                Response::error("the simulator failed on this command (see the model's server.log)")
            }
        }
    };
    let mut out = serde_json::to_string(&resp)?;
    out.push('\n');
    (&stream).write_all(out.as_bytes())?;
    Ok(())
}

/// A unit's "machine" is a directory: `juju ssh` runs commands there with this `sudo`
/// first on `PATH` (it runs its command as is, options dropped).
fn write_sudo(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let sudo = bin.join("sudo");
    std::fs::write(
        &sudo,
        "#!/bin/sh\n# juju-sim: a unit's machine is a directory; sudo runs its command as is.\n\
         while [ $# -gt 0 ]; do\n  case \"$1\" in\n    -u|-g|-C|-D|-p|-r|-t|-U) shift 2 ;;\n    --) shift; break ;;\n    -*) shift ;;\n    *) break ;;\n  esac\ndone\nexec \"$@\"\n",
    )?;
    std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// `juju status` time stamps: `03 Dec 2026 06:20:00Z`.
fn since(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{d:02} {} {y} {:02}:{:02}:{:02}Z",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn now() -> String {
    since(SystemTime::now())
}

impl From<anyhow::Error> for Response {
    /// A simulator error is the command's: `ERROR <the error and its causes>`, exit 1.
    fn from(e: anyhow::Error) -> Response {
        Response::error(format!("{e:#}"))
    }
}

/// A unit's address: `10.0.0.N+10` on machines, `10.1.0.N+10` for a pod.
fn address(k8s: bool, n: u32) -> String {
    format!("10.{}.0.{}", u8::from(k8s), 10 + n)
}

/// A YAML scalar as Juju reads action parameters (`k=true` is a boolean, `k=3` a number).
fn yaml_value(text: &str) -> Value {
    serde_yaml_ng::from_str::<Value>(text)
        .ok()
        .filter(|v| !v.is_object() && !v.is_array() && !v.is_null())
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

/// Sets `value` at a dotted `key` (`a.b=1` is `{a: {b: 1}}`).
fn insert_dotted(map: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        Some((head, rest)) => {
            let inner = map
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            if let Value::Object(m) = inner {
                insert_dotted(m, rest, value);
            }
        }
        None => {
            map.insert(key.to_owned(), value);
        }
    }
}

/// The output of `--format yaml` for a JSON value.
fn yaml(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_default()
}

fn format_out(v: &Value, format: Option<&str>, default_yaml: bool) -> Response {
    match format {
        Some("json") => Response::out(format!("{v}\n")),
        Some("yaml") => Response::out(yaml(v)),
        None if default_yaml => Response::out(yaml(v)),
        None => Response::out(format!("{v}\n")),
        Some(other) => Response::usage(format!(
            "invalid value \"{other}\" for option --format: unknown format \"{other}\""
        )),
    }
}

impl Model {
    fn handle(&mut self, req: &Request) -> Response {
        let (cmd, args) = match req.args.split_first() {
            Some((c, a)) => (c.as_str(), a),
            None => return Response::usage("no command"),
        };
        if let Some(e) = self.runner_error.take() {
            return Response::error(format!("the simulator's hook runner failed: {e}"));
        }
        let result = match cmd {
            "deploy" => self.deploy(args, &req.cwd),
            "refresh" => self.refresh(args, &req.cwd),
            "status" => self.status(args),
            "run" => self.run(args, &req.cwd),
            "show-unit" => self.show_unit(args),
            "ssh" => self.ssh(args),
            "config" => self.config(args),
            "trust" => self.trust(args),
            "add-unit" => self.add_unit(args),
            "remove-unit" => self.remove_unit(args),
            "debug-log" => self.debug_log(args),
            other => {
                return Response::error(format!("juju {other} is not supported by the simulator"))
            }
        };
        result.unwrap_or_else(|e| e)
    }

    fn app(&mut self, name: &str) -> Result<&mut App, Response> {
        match &mut self.app {
            Some(a) if a.name == name => Ok(a),
            _ => Err(Response::error(format!(
                "application \"{name}\" not found (not found)"
            ))),
        }
    }

    fn only_app(&mut self) -> Result<&mut App, Response> {
        self.app
            .as_mut()
            .ok_or_else(|| Response::error("no application is deployed in this model"))
    }

    /// `app/N` or `app/leader` to the unit's number.
    fn unit_number(&mut self, unit: &str) -> Result<u32, Response> {
        let not_found = || Response::error(format!("unit \"{unit}\" not found (not found)"));
        let (app, n) = unit.split_once('/').ok_or_else(not_found)?;
        let sim = &self.app(app).map_err(|_| not_found())?.sim;
        let found = if n == "leader" {
            sim.unit_number(sim.leader())
        } else {
            n.parse().ok().filter(|&n| sim.index_of(n).is_some())
        };
        found.ok_or_else(not_found)
    }

    fn deploy(&mut self, args: &[String], cwd: &Path) -> Result<Response, Response> {
        let spec = [
            ("-n|--num-units", true),
            ("--trust", false),
            ("--config", true),
            ("--base", true),
            ("--series", true),
            ("--channel", true),
            ("--revision", true),
            ("--force", false),
            ("--to", true),
            ("--constraints", true),
            ("--bind", true),
            ("--storage", true),
            ("--resource", true),
            ("--attach-storage", true),
            ("--overlay", true),
        ];
        let p = parse(args, &spec, false)?;
        let (charm, app) = match p.positional.as_slice() {
            [charm] => (charm, None),
            [charm, app] => (charm, Some(app.clone())),
            [] => return Err(Response::usage("no charm name specified")),
            [_, _, extra, ..] => {
                return Err(Response::usage(format!("unrecognized args: [\"{extra}\"]")))
            }
        };
        let path = cwd.join(charm);
        if !path.exists() {
            return Err(Response::error(format!(
                "cannot resolve charm or bundle \"{charm}\": the simulator has no Charmhub: deploy a charm directory or a .charm file"
            )));
        }
        let units: usize = match p.value("--num-units") {
            None => 1,
            Some(n) => n.parse().map_err(|_| {
                Response::usage(format!(
                    "invalid value \"{n}\" for option -n: must be a number"
                ))
            })?,
        };
        let source = CharmSource::open(&path)?;
        let charm_name = source.name()?;
        let app = app.unwrap_or_else(|| charm_name.clone());
        if let Some(existing) = &self.app {
            return Err(Response::error(if existing.name == app {
                format!("cannot add application \"{app}\": application already exists")
            } else {
                format!("cannot add application \"{app}\": the simulator's model holds one application ({})", existing.name)
            }));
        }
        let versions = source.versions().ok_or_else(|| {
            Response::error(format!(
                "{charm}: the charm ships no versions.json (see juju-sim's charm contract)"
            ))
        })?;
        let rev = Revision::from_versions(0, &versions)
            .map_err(|e| Response::error(format!("{charm}: {e:#}")))?;
        let mut charm_config = BTreeMap::new();
        for kv in p.values("--config") {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                Response::error(format!("--config {kv:?}: the simulator takes KEY=VALUE"))
            })?;
            charm_config.insert(k.to_owned(), v.to_owned());
        }
        let k8s = self.substrate == Substrate::K8s;
        let dispatch = source.dispatch()?;
        let cfg = SimConfig {
            units,
            substrate: self.substrate,
            seed: std::env::var("JUJU_SIM_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1),
            schedule: Schedule::Random,
            dispatch,
            tool: std::env::current_exe().map_err(Response::error)?,
            faults: if k8s && !p.on("--trust") {
                vec![Fault::Untrusted]
            } else {
                Vec::new()
            },
            verbose: false,
            live: false,
            operator: None,
            retry_actions: false,
            charm_config,
            deploy_dispatch: None,
            charm_files: CharmFiles {
                deployed: Some(source.dir().to_owned()),
                target: None,
                app: Some(app.clone()),
            },
            revisions: Revisions {
                old: rev.clone(),
                new: rev.clone(),
                incompatible: rev.clone(),
            },
        };
        let mut sim = Sim::new(cfg)?;
        sim.set_local_charms(true);
        sim.deploy(&rev)?;
        self.app = Some(App {
            name: app.clone(),
            charm_name: charm_name.clone(),
            sim,
            revision: 0,
            charms: vec![source],
            since: now(),
        });
        Ok(Response::said(format!(
            "Located local charm \"{charm_name}\", revision 0\nDeploying \"{app}\" from local charm \"{charm_name}\", revision 0 on ubuntu@24.04/stable\n"
        )))
    }

    fn refresh(&mut self, args: &[String], cwd: &Path) -> Result<Response, Response> {
        let spec = [
            ("--path", true),
            ("--trust", false),
            ("--config", true),
            ("--force", false),
            ("--force-base", false),
            ("--force-units", false),
            ("--base", true),
            ("--channel", true),
            ("--revision", true),
            ("--resource", true),
            ("--storage", true),
            ("--switch", true),
        ];
        let p = parse(args, &spec, false)?;
        let [name] = p.positional.as_slice() else {
            return Err(Response::usage("expected an application name"));
        };
        let Some(path) = p.value("--path") else {
            return Err(Response::error(
                "the simulator has no Charmhub: refresh --path PATH",
            ));
        };
        let path = cwd.join(path);
        let app = self.app(name)?;
        let source = CharmSource::open(&path)?;
        let charm_name = source.name()?;
        if charm_name != app.charm_name {
            return Err(Response::error(format!(
                "cannot refresh \"{name}\" from charm \"{}\" to \"{charm_name}\": a different charm (use --switch)",
                app.charm_name
            )));
        }
        let versions = source
            .versions()
            .ok_or_else(|| Response::error("the charm ships no versions.json"))?;
        let revision = app.revision + 1;
        let rev = Revision::from_versions(revision, &versions)?;
        app.sim.set_refresh_charm(source.dir().to_owned());
        app.sim.refresh(&rev)?;
        app.revision = revision;
        app.charms.push(source);
        if p.on("--trust") {
            app.sim.trust();
        }
        for kv in p.values("--config") {
            if let Some((k, v)) = kv.split_once('=') {
                app.sim.set_config(k, v);
            }
        }
        Ok(Response::said(format!(
            "Added local charm \"{charm_name}\", revision {revision}, to the model\n"
        )))
    }

    fn status(&mut self, args: &[String]) -> Result<Response, Response> {
        let spec = [
            ("--format|-o", true),
            ("--relations", false),
            ("--color", false),
            ("--no-color", false),
            ("--utc", false),
            ("--storage", false),
            ("--integrations", false),
            ("--watch", true),
        ];
        let p = parse(args, &spec, false)?;
        if p.value("--watch").is_some() {
            return Err(Response::error("the simulator's status does not --watch"));
        }
        let status = self.status_json();
        match p.value("--format") {
            None | Some("tabular") => Ok(Response::out(tabular(&status))),
            f => Ok(format_out(&status, f, false)),
        }
    }

    fn status_json(&self) -> Value {
        let k8s = self.substrate == Substrate::K8s;
        let model = json!({
            "name": self.name,
            "type": if k8s { "caas" } else { "iaas" },
            "controller": CONTROLLER,
            "cloud": self.cloud.split('/').next().unwrap_or(&self.cloud),
            "region": "localhost",
            "version": VERSION,
            "model-status": {"current": "available", "since": now()},
            "sla": "unsupported",
        });
        let mut machines = Map::new();
        let mut applications = Map::new();
        if let Some(app) = &self.app {
            let view = app.sim.view();
            let mut units = Map::new();
            for u in &view {
                let n = u.number;
                let (status, message) = shown(u);
                let mut unit = json!({
                    "workload-status": {"current": status, "message": message, "since": since(u.status_since)},
                    "juju-status": agent_status(u, &app.since),
                    "leader": u.leader,
                });
                if k8s {
                    unit["address"] = json!(address(k8s, n));
                    unit["provider-id"] = json!(format!("{}-{n}", app.name));
                } else {
                    unit["machine"] = json!(n.to_string());
                    unit["public-address"] = json!(address(k8s, n));
                    machines.insert(
                        n.to_string(),
                        json!({
                            "juju-status": {"current": "started", "since": app.since, "version": VERSION},
                            "hostname": format!("juju-sim-{n}"),
                            "dns-name": address(k8s, n),
                            "ip-addresses": [address(k8s, n)],
                            "instance-id": format!("juju-sim-{n}"),
                            "machine-status": {"current": "running", "message": "Running", "since": app.since},
                            "modification-status": {"current": "applied", "since": app.since},
                            "base": {"name": "ubuntu", "channel": "24.04"},
                            "network-interfaces": {},
                            "constraints": "",
                            "hardware": "arch=amd64",
                        }),
                    );
                }
                units.insert(u.name.clone(), unit);
            }
            let (status, message) = app.sim.shown_app_status();
            // The application's version: the one a unit set most recently (Juju's).
            let version = view
                .iter()
                .filter_map(|u| u.version.as_ref())
                .max_by_key(|(_, step)| *step)
                .map(|(v, _)| v.clone())
                .unwrap_or_default();
            let mut a = json!({
                "charm": app.charm_url(),
                "charm-origin": "local",
                "charm-name": app.charm_name,
                "charm-rev": app.revision,
                "exposed": false,
                "base": {"name": "ubuntu", "channel": "24.04"},
                "application-status": {"current": status, "message": message, "since": now()},
                "relations": {"upgrade": [{"related-application": app.name, "interface": "upgrade", "scope": "global"}]},
                "units": units,
                "version": version,
                "endpoint-bindings": {"": "alpha", "upgrade": "alpha"},
            });
            if k8s {
                a["scale"] = json!(view.len());
                a["provider-id"] = json!(format!("{}-sts", app.name));
                a["address"] = json!("10.152.183.10");
            }
            applications.insert(app.name.clone(), a);
        }
        json!({
            "model": model,
            "machines": machines,
            "applications": applications,
            "storage": {},
            "controller": {"timestamp": now().split(' ').nth(3).unwrap_or("").trim_end_matches('Z')},
        })
    }

    fn run(&mut self, args: &[String], cwd: &Path) -> Result<Response, Response> {
        let spec = [
            ("--format|-o", true),
            ("--wait", true),
            ("--params", true),
            ("--background", false),
            ("--color", false),
            ("--no-color", false),
            ("--quiet", false),
            ("--utc", false),
            ("--string-args", false),
        ];
        let p = parse(args, &spec, false)?;
        if p.on("--background") {
            return Err(Response::error(
                "the simulator runs actions in the foreground only",
            ));
        }
        let (unit, action, kvs) = match p.positional.as_slice() {
            [unit, action, kvs @ ..] => (unit.clone(), action.clone(), kvs.to_vec()),
            _ => return Err(Response::usage("no unit specified")),
        };
        let n = self.unit_number(&unit)?;
        let mut params = Map::new();
        if let Some(file) = p.value("--params") {
            let text = std::fs::read_to_string(cwd.join(file))
                .map_err(|e| Response::error(format!("cannot read --params {file}: {e}")))?;
            match serde_yaml_ng::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => params.extend(m),
                Ok(Value::Null) => {}
                _ => {
                    return Err(Response::error(format!(
                        "--params {file}: not a YAML mapping"
                    )))
                }
            }
        }
        for kv in &kvs {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                Response::usage(format!(
                    "argument \"{kv}\" must be of the form key...=value"
                ))
            })?;
            let v = if p.on("--string-args") {
                Value::String(v.to_owned())
            } else {
                yaml_value(v)
            };
            insert_dotted(&mut params, k, v);
        }
        let task = {
            self.next_task += 2; // (Juju numbers operations and tasks from one sequence.)
            self.next_task
        };
        let app = self.only_app()?;
        let defined = actions_of(app.charm().dir());
        let unit_name = format!("{}/{n}", app.name);
        if !defined.contains(&action) {
            return Err(Response::error(format!(
                "action \"{action}\" not defined on unit \"{unit_name}\" (not found)"
            )));
        }
        let i = app.sim.index_of(n).ok_or_else(|| {
            Response::error(format!("unit \"{unit_name}\" not found (not found)"))
        })?;
        let enqueued = now();
        let outcome = app.sim.run_action_with(i, &action, params)?;
        let code = outcome.exit.unwrap_or(1);
        let mut results = Map::new();
        for (k, v) in &outcome.results {
            insert_dotted(&mut results, k, Value::String(v.clone()));
        }
        results.insert("return-code".into(), json!(code));
        let (status, message) = match (&outcome.failure, outcome.exit) {
            (Some(m), _) => ("failed", m.clone()),
            (None, Some(0)) => ("completed", String::new()),
            (None, Some(c)) => ("failed", format!("exit status {c}")),
            (None, None) => ("failed", "signal: killed".to_owned()),
        };
        let mut entry = json!({
            "id": task.to_string(),
            "results": results,
            "status": status,
            "timing": {"completed": now(), "enqueued": enqueued, "started": enqueued},
            "unit": unit_name,
        });
        if !message.is_empty() {
            entry["message"] = json!(message);
        }
        if !outcome.log.is_empty() {
            entry["log"] = json!(outcome.log);
        }
        let out = json!({ unit_name.clone(): entry });
        let mut r = match p.value("--format") {
            Some("json") => Response::out(format!("{out}\n")),
            Some("yaml") => Response::out(yaml(&out)),
            None | Some("plain") => {
                let mut shown = Value::Object(results.clone());
                if let Value::Object(m) = &mut shown {
                    m.remove("return-code");
                }
                let text = if shown.as_object().is_some_and(|m| m.is_empty()) {
                    String::new()
                } else {
                    yaml(&shown)
                };
                Response::out(text)
            }
            Some(other) => {
                return Err(Response::usage(format!(
                    "invalid value \"{other}\" for option --format: unknown format \"{other}\""
                )))
            }
        };
        // (What Juju 3 says while it waits, on stderr.)
        r.stderr = format!(
            "Running operation {} with 1 task\n  - task {task} on unit-{}\n\nWaiting for task {task}...\n",
            task - 1,
            unit_name.replace('/', "-")
        );
        if status != "completed" {
            r.code = 1;
            r.stderr.push_str(&format!(
                "ERROR the following task failed:\n id \"{task}\" with return code {code}\n\nuse 'juju show-task' to inspect the failure\n"
            ));
        }
        Ok(r)
    }

    fn show_unit(&mut self, args: &[String]) -> Result<Response, Response> {
        let spec = [
            ("--format|-o", true),
            ("--app", false),
            ("--endpoint", true),
            ("--related-unit", true),
        ];
        let p = parse(args, &spec, false)?;
        if p.positional.is_empty() {
            return Err(Response::usage("an unit name must be supplied"));
        }
        let mut out = Map::new();
        let k8s = self.substrate == Substrate::K8s;
        for unit in &p.positional {
            let n = self.unit_number(unit)?;
            let app = self.only_app()?;
            let view = app.sim.view();
            let me = view
                .iter()
                .find(|u| u.number == n)
                .ok_or_else(|| Response::error(format!("unit \"{unit}\" not found")))?;
            let data = |u: &UnitView| {
                let mut d: Map<String, Value> =
                    u.bag.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                let a = address(k8s, u.number);
                d.insert("egress-subnets".into(), json!(format!("{a}/32")));
                d.insert("ingress-address".into(), json!(a));
                d.insert("private-address".into(), json!(a));
                Value::Object(d)
            };
            let mut info = json!({
                "opened-ports": [],
                "charm": app.charm_url(),
                "leader": me.leader,
                "life": if me.dying { "dying" } else { "alive" },
                "workload-version": me.version.as_ref().map(|(v, _)| v.clone()).unwrap_or_default(),
            });
            if me.in_relation {
                let related: Map<String, Value> = view
                    .iter()
                    .filter(|u| u.name != me.name && u.in_relation)
                    .map(|u| (u.name.clone(), json!({"in-scope": true, "data": data(u)})))
                    .collect();
                let app_data: Map<String, Value> = app
                    .sim
                    .app_bag()
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                info["relation-info"] = json!([{
                    "relation-id": 1,
                    "endpoint": "upgrade",
                    "related-endpoint": "upgrade",
                    "application-data": app_data,
                    "local-unit": {"in-scope": true, "data": data(me)},
                    "related-units": related,
                }]);
            }
            if k8s {
                info["address"] = json!(address(k8s, n));
                info["provider-id"] = json!(format!("{}-{n}", app.name));
            } else {
                info["machine"] = json!(n.to_string());
                info["public-address"] = json!(address(k8s, n));
            }
            out.insert(me.name.clone(), info);
        }
        Ok(format_out(&Value::Object(out), p.value("--format"), true))
    }

    fn ssh(&mut self, args: &[String]) -> Result<Response, Response> {
        let spec = [
            ("--container", true),
            ("--no-host-key-checks", false),
            ("--pty", false),
            ("--proxy", false),
        ];
        let p = parse(args, &spec, true)?;
        let Some((target, command)) = p.positional.split_first() else {
            return Err(Response::usage("no target name specified"));
        };
        if command.is_empty() {
            return Err(Response::error(
                "the simulator's juju ssh runs a command (no interactive shell)",
            ));
        }
        let target = target.rsplit('@').next().unwrap_or(target);
        let n = match target.parse::<u32>() {
            Ok(machine) if self.substrate == Substrate::Vm => machine,
            _ => self.unit_number(target)?,
        };
        let bin = self.dir.join("bin");
        let app = self.only_app()?;
        let view = app.sim.view();
        let unit = view
            .iter()
            .find(|u| u.number == n)
            .ok_or_else(|| Response::error(format!("machine {n} not found")))?;
        std::fs::create_dir_all(&unit.workload_dir).map_err(Response::error)?;
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(command.join(" "))
            .current_dir(&unit.workload_dir)
            .env("PATH", path)
            .env(crate::sim::WORKLOAD_DIR_VAR, &unit.workload_dir)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(Response::error)?;
        Ok(Response {
            code: out.status.code().unwrap_or(255),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn config(&mut self, args: &[String]) -> Result<Response, Response> {
        let spec = [
            ("--format|-o", true),
            ("--reset", true),
            ("--file", true),
            ("--color", false),
            ("--no-color", false),
        ];
        let p = parse(args, &spec, false)?;
        let Some((name, rest)) = p.positional.split_first() else {
            return Err(Response::usage("no application name specified"));
        };
        let app = self.app(name)?;
        let options = config_options(app.charm().dir());
        let sets: Vec<&String> = rest.iter().filter(|a| a.contains('=')).collect();
        let gets: Vec<&String> = rest.iter().filter(|a| !a.contains('=')).collect();
        let mut resets: Vec<String> = p
            .values("--reset")
            .iter()
            .flat_map(|r| r.split(',').map(str::to_owned))
            .collect();
        resets.retain(|r| !r.is_empty());
        if !sets.is_empty() || !resets.is_empty() {
            for kv in sets {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                if !options.contains_key(k) {
                    return Err(Response::error(format!("unknown option \"{k}\"")));
                }
                app.sim.set_config(k, v);
            }
            for k in resets {
                app.sim.reset_config(&k);
            }
            return Ok(Response::default());
        }
        let user = app.sim.config().charm_config.clone();
        if let [key] = gets.as_slice() {
            let value = user.get(key.as_str()).cloned().or_else(|| {
                options
                    .get(key.as_str())
                    .and_then(|o| o.get("default"))
                    .map(value_text)
            });
            return match value {
                Some(v) => Ok(Response::out(format!("{v}\n"))),
                None => Err(Response::error(format!(
                    "key \"{key}\" not found in \"{name}\" application config or charm settings."
                ))),
            };
        }
        let mut settings = Map::new();
        for (k, o) in &options {
            let mut s = o.clone();
            let (value, source) = match user.get(k) {
                Some(v) => (yaml_value(v), "user"),
                None => (o.get("default").cloned().unwrap_or(Value::Null), "default"),
            };
            if let Value::Object(m) = &mut s {
                m.insert("value".into(), value);
                m.insert("source".into(), json!(source));
            }
            settings.insert(k.clone(), s);
        }
        let out = json!({"application": name, "charm": app.charm_name, "settings": settings});
        Ok(format_out(&out, p.value("--format"), true))
    }

    fn trust(&mut self, args: &[String]) -> Result<Response, Response> {
        let p = parse(args, &[("--scope", true), ("--remove", false)], false)?;
        let [name] = p.positional.as_slice() else {
            return Err(Response::usage("expected an application name"));
        };
        if p.on("--remove") {
            return Err(Response::error("the simulator does not take trust back"));
        }
        self.app(name)?.sim.trust();
        Ok(Response::default())
    }

    fn add_unit(&mut self, args: &[String]) -> Result<Response, Response> {
        let p = parse(
            args,
            &[
                ("-n|--num-units", true),
                ("--to", true),
                ("--attach-storage", true),
            ],
            false,
        )?;
        let [name] = p.positional.as_slice() else {
            return Err(Response::usage("no application specified"));
        };
        let count: usize = p
            .value("--num-units")
            .map_or(Ok(1), str::parse)
            .map_err(|_| Response::usage("invalid value for option -n"))?;
        let app = self.app(name)?;
        for _ in 0..count {
            app.sim.add_unit()?;
        }
        Ok(Response::default())
    }

    fn remove_unit(&mut self, args: &[String]) -> Result<Response, Response> {
        let spec = [
            ("--no-prompt", false),
            ("--force", false),
            ("--destroy-storage", false),
            ("--no-wait", false),
            ("--num-units", true),
            ("--dry-run", false),
        ];
        let p = parse(args, &spec, false)?;
        let mut numbers = Vec::new();
        if let Some(count) = p.value("--num-units") {
            // Kubernetes: the highest pods go.
            let [name] = p.positional.as_slice() else {
                return Err(Response::usage("--num-units takes one application"));
            };
            let count: usize = count
                .parse()
                .map_err(|_| Response::usage("invalid value for --num-units"))?;
            let app = self.app(name)?;
            let mut all: Vec<u32> = app
                .sim
                .view()
                .iter()
                .filter(|u| !u.dying)
                .map(|u| u.number)
                .collect();
            all.sort_unstable();
            numbers.extend(all.iter().rev().take(count));
        } else {
            for unit in &p.positional {
                numbers.push(self.unit_number(unit)?);
            }
        }
        let app = self.only_app()?;
        for n in numbers {
            app.sim.remove_unit(n)?;
        }
        Ok(Response::said("will remove the unit\n"))
    }

    fn debug_log(&mut self, args: &[String]) -> Result<Response, Response> {
        let spec = [
            ("--replay", false),
            ("--no-tail", false),
            ("--tail", false),
            ("--limit", true),
            ("-n|--lines", true),
            ("-i|--include", true),
            ("--level|-l", true),
            ("--ms", false),
            ("--utc", false),
            ("--color", false),
            ("--no-color", false),
            ("--date", false),
            ("--format", true),
        ];
        let p = parse(args, &spec, false)?;
        let rank = |l: &str| match l.to_ascii_uppercase().as_str() {
            "TRACE" => 0,
            "DEBUG" => 1,
            "INFO" => 2,
            "WARNING" => 3,
            "ERROR" => 4,
            "CRITICAL" => 5,
            _ => 2,
        };
        let min = p.value("--level").map_or(0, rank);
        let include = p.values("--include");
        let limit: usize = match p.value("--limit").or(p.value("--lines")) {
            None | Some("0") => usize::MAX,
            Some(n) => n
                .parse()
                .map_err(|_| Response::usage("invalid value for --limit"))?,
        };
        let Some(app) = &self.app else {
            return Ok(Response::default());
        };
        let lines: Vec<String> = app
            .sim
            .logs()
            .iter()
            .filter(|l| rank(&l.level) >= min)
            .filter(|l| {
                let entity = format!("unit-{}", l.unit.replace('/', "-"));
                include.is_empty()
                    || include
                        .iter()
                        .any(|i| *i == l.unit || *i == entity || *i == app.name)
            })
            .map(|l| {
                format!(
                    "unit-{}: {} {} unit.{}.juju-log {}\n",
                    l.unit.replace('/', "-"),
                    l.time,
                    l.level,
                    l.unit,
                    l.message
                )
            })
            .collect();
        let start = lines.len().saturating_sub(limit);
        Ok(Response::out(lines[start..].concat()))
    }
}

/// A unit's workload status as `juju status` shows it (a unit in error shows the hook).
fn shown(u: &UnitView) -> (String, String) {
    match &u.agent {
        Agent::Error(hook) => ("error".into(), format!("hook failed: \"{hook}\"")),
        _ => u.status.clone(),
    }
}

fn agent_status(u: &UnitView, deployed: &str) -> Value {
    match &u.agent {
        Agent::Executing(hook) => json!({
            "current": "executing",
            "message": format!("running {hook} hook"),
            "since": now(),
            "version": VERSION,
        }),
        _ => json!({"current": "idle", "since": deployed, "version": VERSION}),
    }
}

/// The action names the charm's `actions.yaml` declares.
fn actions_of(charm: &Path) -> Vec<String> {
    std::fs::read_to_string(charm.join("actions.yaml"))
        .ok()
        .and_then(|t| serde_yaml_ng::from_str::<Value>(&t).ok())
        .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default()
}

/// The charm's config options (`config.yaml`'s `options`).
fn config_options(charm: &Path) -> BTreeMap<String, Value> {
    std::fs::read_to_string(charm.join("config.yaml"))
        .ok()
        .and_then(|t| serde_yaml_ng::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("options").and_then(Value::as_object).cloned())
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `juju status` without `--format`: the model's, the application's and the units' lines.
fn tabular(status: &Value) -> String {
    let m = &status["model"];
    let mut out = format!(
        "Model  Controller  Cloud/Region  Version\n{}  {}  {}/localhost  {}\n\n",
        m["name"].as_str().unwrap_or(""),
        m["controller"].as_str().unwrap_or(""),
        m["cloud"].as_str().unwrap_or(""),
        m["version"].as_str().unwrap_or("")
    );
    let Some(apps) = status["applications"].as_object() else {
        return out;
    };
    out.push_str("App  Version  Status  Charm  Rev  Message\n");
    for (name, a) in apps {
        out.push_str(&format!(
            "{name}  {}  {}  {}  {}  {}\n",
            a["version"].as_str().unwrap_or(""),
            a["application-status"]["current"].as_str().unwrap_or(""),
            a["charm-name"].as_str().unwrap_or(""),
            a["charm-rev"],
            a["application-status"]["message"].as_str().unwrap_or("")
        ));
    }
    out.push_str("\nUnit  Workload  Agent  Message\n");
    for a in apps.values() {
        for (name, u) in a["units"].as_object().into_iter().flatten() {
            let star = if u["leader"].as_bool() == Some(true) {
                "*"
            } else {
                ""
            };
            out.push_str(&format!(
                "{name}{star}  {}  {}  {}\n",
                u["workload-status"]["current"].as_str().unwrap_or(""),
                u["juju-status"]["current"].as_str().unwrap_or(""),
                u["workload-status"]["message"].as_str().unwrap_or("")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_stamps_read_as_juju_s() {
        assert_eq!(since(UNIX_EPOCH), "01 Jan 1970 00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_285_100); // `date -u -d @1796285100`
        assert_eq!(since(t), "03 Dec 2026 08:05:00Z");
        assert_eq!(civil(11_016), (2000, 2, 29));
    }

    #[test]
    fn action_parameters_are_yaml_scalars_and_dotted_keys_nest() {
        let mut m = Map::new();
        insert_dotted(
            &mut m,
            "check-health-of-refreshed-units",
            yaml_value("false"),
        );
        insert_dotted(&mut m, "a.b", yaml_value("3"));
        insert_dotted(&mut m, "name", yaml_value("unit 2"));
        assert_eq!(
            Value::Object(m),
            json!({"check-health-of-refreshed-units": false, "a": {"b": 3}, "name": "unit 2"})
        );
    }
}
