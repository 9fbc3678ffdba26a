//! `juju` over the simulator: the command line jubilant and the integration tests run,
//! against a model that lives between commands.
//!
//! Run this program as `juju` (a symlink named so, or `juju-sim juju ARGS`). A model is a
//! directory under [`home`] (`$JUJU_SIM_HOME`, default `~/.local/share/juju-sim`):
//! `juju add-model NAME [CLOUD]` starts the model's server ([`crate::server`]), a process
//! of this program that holds the simulated model and runs its units' hooks in the
//! background, as a controller and its unit agents do; every other command is one request
//! to it over the model's Unix socket, answered with the command's output and exit code,
//! and `juju destroy-model` stops it. The cloud picks the substrate: `localhost` (or `lxd`,
//! the default) for machines, `microk8s` (or `k8s`, `kubernetes`) for Kubernetes.
//!
//! Why a server rather than state written to disk after each command: the model holds live
//! parts (the Kubernetes API server the charm patches, the scheduler, the unit agents'
//! queues), and hooks must go on running while the client sleeps between `juju status`
//! calls, as `jubilant.Juju.wait` expects of a controller.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The variable naming the directory that holds the models.
pub const HOME_VAR: &str = "JUJU_SIM_HOME";
/// The Juju version this `juju` says it is (and the units' `JUJU_VERSION`).
pub const VERSION: &str = "3.6.7";
/// The controller's name in `juju status`.
pub const CONTROLLER: &str = "sim";

/// Where the models live: `$JUJU_SIM_HOME`, or `~/.local/share/juju-sim`.
pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os(HOME_VAR) {
        return PathBuf::from(h);
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/juju-sim"),
        None => std::env::temp_dir().join("juju-sim"),
    }
}

/// A model's directory.
pub fn model_dir(name: &str) -> PathBuf {
    home().join("models").join(name)
}

/// One command sent to a model's server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The command line after `juju`, without `--model`.
    pub args: Vec<String>,
    /// The client's working directory (relative paths are the client's).
    pub cwd: PathBuf,
}

/// What a command printed and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Exit code: 0, 1 for an error, 2 for a usage error (as Juju's).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Response {
    /// Success with `stdout`.
    pub fn out(stdout: impl Into<String>) -> Response {
        Response {
            code: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// Success that says `message` on stderr (as Juju reports progress).
    pub fn said(message: impl Into<String>) -> Response {
        Response {
            code: 0,
            stdout: String::new(),
            stderr: message.into(),
        }
    }

    /// A failed command: `ERROR message`, exit 1.
    pub fn error(message: impl std::fmt::Display) -> Response {
        Response {
            code: 1,
            stdout: String::new(),
            stderr: format!("ERROR {message}\n"),
        }
    }

    /// A command line Juju would not parse: `ERROR message`, exit 2.
    pub fn usage(message: impl std::fmt::Display) -> Response {
        Response {
            code: 2,
            ..Response::error(message)
        }
    }
}

/// The commands of the real `juju` (3.6) this one knows by name; those [`SUPPORTED`] does
/// not list fail as not supported here, any other as not a juju command.
const JUJU_COMMANDS: &[&str] = &[
    "actions",
    "add-cloud",
    "add-credential",
    "add-machine",
    "add-model",
    "add-secret",
    "add-ssh-key",
    "add-unit",
    "add-user",
    "attach-resource",
    "bootstrap",
    "clouds",
    "config",
    "consume",
    "controllers",
    "debug-hooks",
    "debug-log",
    "deploy",
    "destroy-controller",
    "destroy-model",
    "download",
    "exec",
    "expose",
    "find",
    "grant",
    "info",
    "integrate",
    "machines",
    "model-config",
    "models",
    "offer",
    "operations",
    "refresh",
    "relate",
    "remove-application",
    "remove-machine",
    "remove-relation",
    "remove-unit",
    "resolve",
    "resolved",
    "resources",
    "run",
    "scale-application",
    "scp",
    "secrets",
    "show-action",
    "show-application",
    "show-controller",
    "show-machine",
    "show-model",
    "show-operation",
    "show-secret",
    "show-status-log",
    "show-task",
    "show-unit",
    "ssh",
    "status",
    "switch",
    "trust",
    "unexpose",
    "upgrade-charm",
    "version",
    "wait-for",
    "whoami",
];

/// What this `juju` implements.
pub const SUPPORTED: &[&str] = &[
    "version",
    "add-model",
    "destroy-model",
    "models",
    "deploy",
    "add-unit",
    "remove-unit",
    "refresh",
    "config",
    "trust",
    "run",
    "status",
    "show-unit",
    "ssh",
    "debug-log",
];

/// `juju ARGS`: runs the command, prints its output, returns its exit code.
pub fn main(args: &[String]) -> i32 {
    let r = client(args);
    // (A reader that went away is not this command's failure.)
    let _ = std::io::stdout().write_all(r.stdout.as_bytes());
    let _ = std::io::stderr().write_all(r.stderr.as_bytes());
    r.code
}

const HELP: &str = "\
juju-sim's juju: a Juju 3.6 command line over a simulated local model (no controller).

Commands: version, add-model, destroy-model, models, deploy, add-unit, remove-unit,
refresh, config, trust, run, status, show-unit, ssh, debug-log.

Models live in $JUJU_SIM_HOME (default ~/.local/share/juju-sim). A model on the cloud
localhost (the default) runs units on machines; on microk8s, on Kubernetes.
";

/// The command's [`Response`], without printing it.
pub fn client(args: &[String]) -> Response {
    let Some(cmd) = args.first() else {
        return Response::out(HELP);
    };
    match cmd.as_str() {
        "help" | "--help" | "-h" => return Response::out(HELP),
        "--version" => return Response::out(format!("{VERSION}-ubuntu-amd64\n")),
        _ => {}
    }
    let (model, rest) = match take_model_flag(args) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    match cmd.as_str() {
        "version" => version(&rest[1..]),
        "add-model" => add_model(&rest[1..]),
        "destroy-model" => destroy_model(&rest[1..]),
        "models" => models(&rest[1..]),
        c if SUPPORTED.contains(&c) => {
            let model = match model.or_else(current_model) {
                Some(m) => m,
                None => {
                    return Response::error("no current model: use --model or juju add-model first")
                }
            };
            send(&model, &Request { args: rest, cwd })
        }
        c if JUJU_COMMANDS.contains(&c) => Response::error(format!(
            "juju {c} is not supported by the simulator (juju-sim implements: {})",
            SUPPORTED.join(", ")
        )),
        c => Response::error(format!(
            "juju: {c:?} is not a juju command. See \"juju --help\"."
        )),
    }
}

/// Takes `-m M`, `--model M` or `--model=M` out of `args` (Juju accepts it anywhere after
/// the command); `controller:model` and `user/model` name the model `model`.
fn take_model_flag(args: &[String]) -> Result<(Option<String>, Vec<String>), Response> {
    let mut model = None;
    let mut rest = Vec::with_capacity(args.len());
    let mut it = args.iter();
    if let Some(first) = it.next() {
        rest.push(first.clone());
    }
    while let Some(a) = it.next() {
        if a == "--" {
            rest.push(a.clone());
            rest.extend(it.cloned());
            break;
        }
        let value = if a == "-m" || a == "--model" {
            match it.next() {
                Some(v) => Some(v.clone()),
                None => return Err(Response::usage(format!("option needs an argument: {a}"))),
            }
        } else {
            a.strip_prefix("--model=").map(str::to_owned)
        };
        match value {
            Some(v) => {
                let bare = v.rsplit([':', '/']).next().unwrap_or(&v).to_owned();
                model = Some(bare);
            }
            None => rest.push(a.clone()),
        }
    }
    Ok((model, rest))
}

fn current_model() -> Option<String> {
    std::fs::read_to_string(home().join("current-model"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Sends `req` to the server of `model`.
fn send(model: &str, req: &Request) -> Response {
    let sock = model_dir(model).join("sock");
    let mut stream = match UnixStream::connect(&sock) {
        Ok(s) => s,
        Err(_) => {
            return Response::error(format!(
                "model \"admin/{model}\" not found (no server at {})",
                sock.display()
            ))
        }
    };
    match exchange(&mut stream, req) {
        Ok(r) => r,
        Err(e) => Response::error(format!("the model's server stopped answering: {e}")),
    }
}

fn exchange(stream: &mut UnixStream, req: &Request) -> std::io::Result<Response> {
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    serde_json::from_str(&reply).map_err(std::io::Error::other)
}

/// Parsed flags and positional arguments of one command, Go-flag style (`--flag value`,
/// `--flag=value`, `-n 3`; flags may follow positional arguments; `--` ends them).
#[derive(Debug, Default)]
pub struct Parsed {
    /// Positional arguments, in order.
    pub positional: Vec<String>,
    /// Each flag given (by its long name in the spec), with its values in order
    /// (`"true"` for a boolean).
    pub flags: std::collections::BTreeMap<&'static str, Vec<String>>,
}

impl Parsed {
    /// The last value of `flag`.
    pub fn value(&self, flag: &str) -> Option<&str> {
        self.flags
            .get(flag)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of `flag`.
    pub fn values(&self, flag: &str) -> &[String] {
        self.flags.get(flag).map(Vec::as_slice).unwrap_or_default()
    }

    /// Was boolean `flag` given (and not `=false`)?
    pub fn on(&self, flag: &str) -> bool {
        self.value(flag).is_some_and(|v| v != "false")
    }
}

/// One flag: its names (`"-n|--num-units"`) and whether it takes a value.
pub type FlagSpec = (&'static str, bool);

/// Parses `args` against `spec`; `stop_at_positional` ends flag parsing at the first
/// positional argument (`juju ssh UNIT COMMAND...`). An unknown flag is Juju's usage error.
pub fn parse(
    args: &[String],
    spec: &[FlagSpec],
    stop_at_positional: bool,
) -> Result<Parsed, Response> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            p.positional.extend(args[i..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            p.positional.push(a.clone());
            if stop_at_positional {
                p.positional.extend(args[i..].iter().cloned());
                break;
            }
            continue;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (a.as_str(), None),
        };
        let Some((names, takes)) = spec
            .iter()
            .find(|(names, _)| names.split('|').any(|n| n == name))
        else {
            return Err(Response::usage(format!(
                "option provided but not defined: {name}"
            )));
        };
        // (A flag is known by its long name: `--num-units` for `-n|--num-units`.)
        let key = names
            .split('|')
            .find(|n| n.starts_with("--"))
            .unwrap_or(names);
        let value = match (takes, inline) {
            (true, Some(v)) => v,
            (true, None) => match args.get(i) {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => return Err(Response::usage(format!("option needs an argument: {name}"))),
            },
            (false, Some(v)) => v,
            (false, None) => "true".to_owned(),
        };
        p.flags.entry(key).or_default().push(value);
    }
    Ok(p)
}

fn version(args: &[String]) -> Response {
    let p = match parse(
        args,
        &[("--format", true), ("--all", false), ("-o|--output", true)],
        false,
    ) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match p.value("--format") {
        Some("json") => Response::out(format!(
            "{}\n",
            serde_json::json!({
                "version": format!("{VERSION}-ubuntu-amd64"),
                "git-commit": "juju-sim",
                "git-tree-state": "archive",
                "compiler": "juju-sim",
                "official-build": 0,
            })
        )),
        Some("yaml") | None | Some("smart") => Response::out(format!("{VERSION}-ubuntu-amd64\n")),
        Some(other) => Response::usage(format!(
            "invalid value \"{other}\" for option --format: unknown format"
        )),
    }
}

/// The substrate a cloud name means here.
pub fn cloud_substrate(cloud: &str) -> Option<crate::sim::Substrate> {
    let name = cloud.split('/').next().unwrap_or(cloud);
    match name {
        "localhost" | "lxd" | "sim" => Some(crate::sim::Substrate::Vm),
        "microk8s" | "k8s" | "kubernetes" | "minikube" => Some(crate::sim::Substrate::K8s),
        _ => None,
    }
}

fn add_model(args: &[String]) -> Response {
    let spec = [
        ("--no-switch", false),
        ("-c|--controller", true),
        ("--config", true),
        ("--credential", true),
        ("--owner", true),
        ("--target-controller", true),
    ];
    let p = match parse(args, &spec, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (name, cloud) = match p.positional.as_slice() {
        [name] => (
            name.clone(),
            std::env::var("JUJU_SIM_CLOUD").unwrap_or("localhost".into()),
        ),
        [name, cloud] => (name.clone(), cloud.clone()),
        [] => return Response::usage("model name is required"),
        [_, _, extra, ..] => return Response::usage(format!("unrecognized args: [\"{extra}\"]")),
    };
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Response::error(format!("\"{name}\" is not a valid name: model names may only contain lowercase letters, digits and hyphens"));
    }
    let Some(substrate) = cloud_substrate(&cloud) else {
        return Response::error(format!(
            "cloud {cloud} not found (the simulator's clouds: localhost for machines, microk8s for Kubernetes)"
        ));
    };
    let dir = model_dir(&name);
    if dir.join("sock").exists() && UnixStream::connect(dir.join("sock")).is_ok() {
        return Response::error(format!(
            "failed to create new model: model \"{name}\" for admin already exists (already exists)"
        ));
    }
    if let Err(e) = start_server(&dir, &name, substrate, &cloud) {
        return Response::error(format!("cannot start the model's server: {e:#}"));
    }
    if !p.on("--no-switch") {
        let _ = std::fs::write(home().join("current-model"), &name);
    }
    let cloud_name = cloud.split('/').next().unwrap_or(&cloud);
    Response::said(format!(
        "Added '{name}' model on {cloud_name}/localhost with credential '{cloud_name}' for user 'admin'\n"
    ))
}

/// Starts `juju-sim __serve-model` for the model in `dir`, detached (its own process group,
/// its output in `dir/server.log`), and waits until it answers.
fn start_server(
    dir: &Path,
    name: &str,
    substrate: crate::sim::Substrate,
    cloud: &str,
) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(dir)?;
    let log = std::fs::File::create(dir.join("server.log"))?;
    let exe = std::env::current_exe()?;
    std::process::Command::new(exe)
        .arg(crate::server::SERVE)
        .arg(dir)
        .arg(name)
        .arg(match substrate {
            crate::sim::Substrate::Vm => "vm",
            crate::sim::Substrate::K8s => "k8s",
        })
        .arg(cloud)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if UnixStream::connect(dir.join("sock")).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    anyhow::bail!("it did not answer within 20 s: {}", log.trim())
}

fn destroy_model(args: &[String]) -> Response {
    let spec = [
        ("--no-prompt|-y", false),
        ("--destroy-storage", false),
        ("--release-storage", false),
        ("--force", false),
        ("--no-wait", false),
        ("-t|--timeout", true),
    ];
    let p = match parse(args, &spec, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let [name] = p.positional.as_slice() else {
        return Response::usage("no model specified");
    };
    let name = name.rsplit([':', '/']).next().unwrap_or(name).to_owned();
    let dir = model_dir(&name);
    if !dir.exists() {
        return Response::error(format!("model {CONTROLLER}:admin/{name} not found"));
    }
    if let Ok(mut s) = UnixStream::connect(dir.join("sock")) {
        let _ = exchange(
            &mut s,
            &Request {
                args: vec![crate::server::SHUTDOWN.into()],
                cwd: PathBuf::from("/"),
            },
        );
    }
    // The server removes its socket as it ends; then the model's files go.
    let deadline = Instant::now() + Duration::from_secs(30);
    while dir.join("sock").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if current_model().as_deref() == Some(name.as_str()) {
        let _ = std::fs::remove_file(home().join("current-model"));
    }
    Response::said("Destroying model\nModel destroyed.\n")
}

fn models(args: &[String]) -> Response {
    let p = match parse(
        args,
        &[("--format", true), ("-c|--controller", true)],
        false,
    ) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut names: Vec<String> = std::fs::read_dir(home().join("models"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().join("sock").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    if p.value("--format") == Some("json") {
        let models: Vec<_> = names
            .iter()
            .map(|n| serde_json::json!({"name": format!("admin/{n}"), "short-name": n, "controller-name": CONTROLLER}))
            .collect();
        return Response::out(format!("{}\n", serde_json::json!({"models": models})));
    }
    let mut out = format!("Controller: {CONTROLLER}\n\nModel\n");
    for n in names {
        out.push_str(&n);
        out.push('\n');
    }
    Response::out(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_parse_as_juju_s() {
        let spec = [
            ("-n|--num-units", true),
            ("--trust", false),
            ("--config", true),
        ];
        let p = parse(
            &v(&[
                "./x.charm",
                "app",
                "--num-units",
                "3",
                "--trust",
                "--config=a=1",
                "--config",
                "b=2",
            ]),
            &spec,
            false,
        )
        .unwrap();
        assert_eq!(p.positional, v(&["./x.charm", "app"]));
        assert_eq!(p.value("--num-units"), Some("3"));
        assert!(p.on("--trust"));
        assert_eq!(p.values("--config"), v(&["a=1", "b=2"]));
        let p = parse(&v(&["-n", "2", "x"]), &spec, false).unwrap();
        assert_eq!(p.value("--num-units"), Some("2"));
        let err = parse(&v(&["--nope"]), &spec, false).unwrap_err();
        assert_eq!(
            (err.code, err.stderr.as_str()),
            (2, "ERROR option provided but not defined: --nope\n")
        );
        let err = parse(&v(&["--num-units"]), &spec, false).unwrap_err();
        assert_eq!(err.code, 2);
        let p = parse(&v(&["u/0", "ls", "-la"]), &[("--container", true)], true).unwrap();
        assert_eq!(p.positional, v(&["u/0", "ls", "-la"]));
    }

    #[test]
    fn the_model_flag_is_taken_anywhere_after_the_command() {
        let (m, rest) = take_model_flag(&v(&[
            "status",
            "--model",
            "ctl:admin/m1",
            "--format",
            "json",
        ]))
        .unwrap();
        assert_eq!(m.as_deref(), Some("m1"));
        assert_eq!(rest, v(&["status", "--format", "json"]));
        let (m, _) = take_model_flag(&v(&["run", "u/0", "act", "-m", "m2"])).unwrap();
        assert_eq!(m.as_deref(), Some("m2"));
        let (m, rest) = take_model_flag(&v(&["ssh", "u/0", "--", "echo", "--model", "x"])).unwrap();
        assert_eq!(m, None, "after -- it is the command's");
        assert_eq!(rest.len(), 6);
    }

    #[test]
    fn unknown_and_unsupported_commands_say_which() {
        let r = client(&v(&["frobnicate"]));
        assert_eq!(r.code, 1);
        assert!(
            r.stderr.contains("\"frobnicate\" is not a juju command"),
            "{}",
            r.stderr
        );
        let r = client(&v(&["bootstrap"]));
        assert_eq!(r.code, 1);
        assert!(
            r.stderr.contains("not supported by the simulator"),
            "{}",
            r.stderr
        );
        assert!(client(&v(&["--help"])).stdout.contains("Commands:"));
        let r = client(&v(&["version", "--format", "json", "--all"]));
        let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(j["version"], "3.6.7-ubuntu-amd64");
    }
}
