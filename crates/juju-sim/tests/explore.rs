//! The exploration of event orders (in-process, the coordinator itself): every interleaving
//! for 2 and 3 units, random schedules up to 10 units. `JUJU_SIM_SWEEP=<runs>` makes the
//! random sweep longer.

use juju_sim::explore::{exhaustive, random, Explore};

#[test]
fn every_interleaving_of_two_and_three_units_upgrades_cleanly() {
    for units in [2, 3, 4] {
        for exact_logs in [true, false] {
            let f = exhaustive(&Explore { units, exact_logs });
            assert!(
                f.violations.is_empty(),
                "{units} units: {:#?}",
                f.violations
            );
            assert!(f.end_states >= 1 && f.states > 10, "{units} units: {f:?}");
            eprintln!(
                "{units} units (exact logs {exact_logs}): {} states, {} end states, {} hooks",
                f.states, f.end_states, f.hooks
            );
        }
    }
}

#[test]
fn random_schedules_up_to_ten_units_upgrade_cleanly() {
    let runs: usize = std::env::var("JUJU_SIM_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    for units in 4..=10 {
        let f = random(
            &Explore {
                units,
                exact_logs: false,
            },
            units as u64,
            runs,
        );
        assert!(
            f.violations.is_empty(),
            "{units} units: {:#?}",
            f.violations
        );
        assert!(
            f.end_states > 1 || runs < 2,
            "{units} units: schedules should differ"
        );
    }
}

#[test]
fn every_interleaving_of_a_rollback_ends_on_the_old_version() {
    use juju_sim::explore::{exhaustive_from, World};
    for units in [2, 3, 4] {
        for fail in 0..units {
            if units == 4 && fail != 0 {
                continue; // the leader's failure, the case the reference gets wrong
            }
            let cfg = Explore {
                units,
                exact_logs: false,
            };
            let f = exhaustive_from(&cfg, World::failed_then_rolling_back(units, fail, false));
            assert!(
                f.violations.is_empty(),
                "{units} units, unit {fail} failed: {:#?}",
                f.violations
            );
            assert!(
                f.end_states >= 1,
                "{units} units, unit {fail} failed: {f:?}"
            );
            eprintln!(
                "rollback, {units} units, unit {fail} failed: {} states, {} ends",
                f.states, f.end_states
            );
        }
    }
}
