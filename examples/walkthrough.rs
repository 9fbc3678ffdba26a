//! A newcomer's first look: the reference charm handles a short, fixed sequence of Juju
//! events, talking to recording hook tools (real processes with real command lines) in a
//! temporary directory, and every hook-tool call is printed as Juju would receive it.
//!
//! Run it with `cargo run --example walkthrough`.

use std::ffi::OsString;

use juju_hooks::testing::ToolRecorder;
use juju_hooks::{dispatch, HookContext, ProcessHookTools};
use upgrade_coordinator::component::load_versions;
use upgrade_coordinator::{InPlaceUpgrade, Substrate};
use upgrade_reference_charm::{DirWorkload, ReferenceCharm};

/// What happens, its `JUJU_DISPATCH_PATH`, and the extra variables Juju sets for it.
type Step<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let charm_dir = dir.path().join("charm");
    std::fs::create_dir_all(&charm_dir)?;
    std::fs::write(
        charm_dir.join("versions.json"),
        include_str!("../versions.json"),
    )?;
    // What `InPlaceUpgrade::from_context` does in `dispatch`, with the substrate fixed.
    let upgrade = load_versions(&charm_dir, Substrate::Vm)
        .map(|config| InPlaceUpgrade::new(config, "demo", "db"));
    let mut charm = ReferenceCharm::new(upgrade, DirWorkload::new(dir.path().join("workload")));
    let tools = ToolRecorder::install(dir.path().join("tools"))?;
    let hook_tools = ProcessHookTools::in_dir(tools.bin_dir());
    tools.respond("state-get", "null\n")?;
    tools.respond("relation-ids", "[]\n")?;

    let steps: &[Step] = &[
        ("a fresh unit is installed", "hooks/install", &[]),
        ("and started", "hooks/start", &[]),
        (
            "`juju refresh` arrives before the peer relation exists: deferred",
            "hooks/upgrade-charm",
            &[],
        ),
        (
            "the peer relation is created: the deferred upgrade-charm runs first",
            "hooks/upgrade-relation-created",
            &[
                ("JUJU_RELATION", "upgrade"),
                ("JUJU_RELATION_ID", "upgrade:3"),
                ("JUJU_REMOTE_APP", "db"),
                ("JUJU_REMOTE_UNIT", ""),
            ],
        ),
        (
            "the operator runs `juju run db/leader pre-upgrade-check`",
            "actions/pre-upgrade-check",
            &[
                ("JUJU_ACTION_NAME", "pre-upgrade-check"),
                ("JUJU_ACTION_UUID", "1"),
            ],
        ),
    ];

    for (i, (what, path, extra)) in steps.iter().enumerate() {
        if i == 3 {
            // What Juju would hand back: the queue committed by the previous hook, and the
            // relation that now exists.
            let committed = tools
                .calls()?
                .into_iter()
                .rev()
                .find(|c| c.tool == "state-set")
                .map(|c| c.stdin)
                .unwrap_or_else(|| "null".into());
            tools.respond("state-get", &format!("{committed}\n"))?;
            tools.respond("relation-ids", "[\"upgrade:3\"]\n")?;
            tools.respond("relation-list", "[]\n")?;
            tools.respond("is-leader", "true\n")?;
            tools.respond_for("relation-get", "db/0", "{}\n")?;
            tools.respond_for("relation-get", "db", "{}\n")?;
        }
        if i == 4 {
            // The committed relation data so far: this unit idle and healthy.
            tools.respond("state-get", "null\n")?;
            tools.respond_for(
                "relation-get",
                "db/0",
                "{\"state\":\"idle\",\"workload-health\":\"healthy\",\"workload-version\":\"1.0.0\"}\n",
            )?;
        }
        tools.clear()?;
        let env: Vec<(&str, String)> = [
            ("JUJU_DISPATCH_PATH", path.to_string()),
            ("JUJU_UNIT_NAME", "db/0".into()),
            ("JUJU_MODEL_NAME", "demo".into()),
            ("JUJU_CHARM_DIR", charm_dir.display().to_string()),
            ("JUJU_VERSION", "3.6.7".into()),
        ]
        .into_iter()
        .chain(extra.iter().map(|(k, v)| (*k, v.to_string())))
        .collect();
        let ctx = HookContext::from_lookup(
            |k| {
                env.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            },
            None,
        )?;
        println!("== {what}\n   JUJU_DISPATCH_PATH={path}");
        let result = dispatch(&ctx, &hook_tools, &mut charm);
        for c in tools.calls()? {
            let args: Vec<String> = c
                .args
                .iter()
                .map(|a| {
                    if a.is_empty() || a.contains(' ') {
                        format!("{a:?}")
                    } else {
                        a.clone()
                    }
                })
                .collect();
            print!("   $ {} {}", c.tool, args.join(" "));
            if c.stdin.is_empty() {
                println!();
            } else {
                println!("   <<< {}", c.stdin);
            }
        }
        match result {
            Ok(r) => println!(
                "   exit 0 (deferred now: {}, still deferred: {}, deferred events completed: {})\n",
                r.deferred_current, r.still_deferred, r.reemitted_done
            ),
            Err(e) => println!("   exit 1: {e}\n"),
        }
    }
    Ok(())
}
