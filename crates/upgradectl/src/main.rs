//! `upgradectl`: the project's command line.
//!
//! ```text
//! upgradectl allows CONSTRAINT VERSION   # prints true/false; exit 0 / 1; invalid input: exit 2
//! upgradectl allows --batch              # stdin: CONSTRAINT<TAB>VERSION per line
//! upgradectl pack [--versions FILE]      # the .charm, without LXD
//! ```
//!
//! `allows` answers exactly as the reference upgrade library does with poetry-core 2.5.0:
//! `parse_constraint(CONSTRAINT).allows(Version.parse(VERSION))`.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use poetry_constraints::{Checker, Constraint, Version};

mod pack;

#[derive(Parser)]
#[command(
    name = "upgradectl",
    version,
    about = "Tools for the in-place upgrade coordinator: version-constraint checks (poetry-core 2.5.0 semantics)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Does a Poetry version constraint allow a version? (the upgrade library's
    /// `verify_requirements`)
    #[command(
        after_help = "Exit status: 0 allowed, 1 not allowed, 2 invalid constraint or version.\n\n\
With --batch, each stdin line is CONSTRAINT<TAB>VERSION (split at the first tab; a line\n\
without a tab has an empty version) and each output line is exactly one of: true, false,\n\
invalid-constraint, invalid-version. The constraint is judged first. This output is stable."
    )]
    Allows {
        /// The constraint, e.g. ">=1.2,<2" or "^3.0 || ~2.5".
        #[arg(required_unless_present = "batch", allow_hyphen_values = true)]
        constraint: Option<String>,
        /// The version, e.g. "1.4.2".
        #[arg(required_unless_present = "batch", allow_hyphen_values = true)]
        version: Option<String>,
        /// Read lines of a constraint, a tab and a version on stdin; print one verdict per line.
        #[arg(long, conflicts_with_all = ["constraint", "version"])]
        batch: bool,
    },
    /// Pack the charm into a .charm file without LXD (as charmcraft lays one out):
    /// a statically linked dispatch, manifest.yaml, metadata.yaml, actions.yaml,
    /// config.yaml and the versions file.
    #[command(
        after_help = "Two revisions for a real upgrade: pack once as is, then again with\n\
--versions charm-revisions/versions-1.1.0.json --suffix -next; `juju refresh APP --path` from one\n\
to the other. --versions charm-revisions/versions-3.0.0-incompatible.json packs one the\n\
coordinator must refuse."
    )]
    Pack {
        /// The charm project directory.
        #[arg(long, default_value = ".")]
        project: std::path::PathBuf,
        /// Where to write the .charm.
        #[arg(long, default_value = ".")]
        out: std::path::PathBuf,
        /// ubuntu@22.04 or ubuntu@24.04.
        #[arg(long, default_value = "ubuntu@24.04")]
        base: String,
        /// amd64 or arm64 (default: this machine's).
        #[arg(long)]
        arch: Option<String>,
        /// The versions file to ship (default: the project's versions.json).
        #[arg(long)]
        versions: Option<std::path::PathBuf>,
        /// Use this dispatch binary instead of building one.
        #[arg(long, conflicts_with = "bin")]
        dispatch: Option<std::path::PathBuf>,
        /// The project's binary target to build and ship as dispatch.
        #[arg(long, default_value = "dispatch")]
        bin: String,
        /// Appended to the charm file's name, e.g. -next.
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        suffix: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Pack {
            project,
            out,
            base,
            arch,
            versions,
            dispatch,
            bin,
            suffix,
        } => {
            let options = pack::PackOptions {
                project,
                out_dir: out,
                base,
                arch: arch.unwrap_or_else(|| pack::host_arch().to_owned()),
                versions,
                dispatch,
                bin,
                suffix,
            };
            match pack::pack(&options) {
                Ok(path) => {
                    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    println!("{} ({:.2} MiB)", path.display(), size as f64 / 1048576.0);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("upgradectl pack: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Allows { batch: true, .. } => match batch(io::stdin().lock(), io::stdout().lock())
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("upgradectl: {e}");
                ExitCode::from(2)
            }
        },
        Command::Allows {
            constraint: Some(c),
            version: Some(v),
            ..
        } => single(&c, &v),
        Command::Allows { .. } => {
            eprintln!("upgradectl: allows needs CONSTRAINT and VERSION, or --batch");
            ExitCode::from(2)
        }
    }
}

fn single(constraint: &str, version: &str) -> ExitCode {
    let c = match Constraint::parse(constraint) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("upgradectl: {e}");
            return ExitCode::from(2);
        }
    };
    let v = match Version::parse(version) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("upgradectl: {e}");
            return ExitCode::from(2);
        }
    };
    if c.allows(&v) {
        println!("true");
        ExitCode::SUCCESS
    } else {
        println!("false");
        ExitCode::from(1)
    }
}

/// One verdict per input line. A field that is not UTF-8 is invalid, like any other text
/// poetry-core could not have been given. Each distinct constraint and version is parsed
/// once (a batch usually repeats its constraints).
fn batch(input: impl BufRead, output: impl Write) -> io::Result<()> {
    let mut out = BufWriter::new(output);
    let mut checker = Checker::new();
    for line in input.split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let (c, v) = match line.iter().position(|&b| b == b'\t') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (&line[..], &b""[..]),
        };
        let word = match (std::str::from_utf8(c), std::str::from_utf8(v)) {
            (Err(_), _) => "invalid-constraint",
            (Ok(c), Err(_)) => {
                if Constraint::parse(c).is_ok() {
                    "invalid-version"
                } else {
                    "invalid-constraint"
                }
            }
            (Ok(c), Ok(v)) => checker.verdict(c, v).as_str(),
        };
        out.write_all(word.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
