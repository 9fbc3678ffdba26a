//! `upgradectl`: the project's command line.
//!
//! ```text
//! upgradectl allows CONSTRAINT VERSION   # prints true/false; exit 0 / 1; invalid input: exit 2
//! upgradectl allows --batch              # stdin: CONSTRAINT<TAB>VERSION per line
//! ```
//!
//! `allows` answers exactly as the reference upgrade library does with poetry-core 2.5.0:
//! `parse_constraint(CONSTRAINT).allows(Version.parse(VERSION))`.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use poetry_constraints::{verdict, Constraint, Version};

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
        /// Read CONSTRAINT<TAB>VERSION lines on stdin and print one verdict per line.
        #[arg(long, conflicts_with_all = ["constraint", "version"])]
        batch: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
/// poetry-core could not have been given.
fn batch(input: impl BufRead, output: impl Write) -> io::Result<()> {
    let mut out = BufWriter::new(output);
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
            (Ok(c), Ok(v)) => verdict(c, v).as_str(),
        };
        out.write_all(word.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
