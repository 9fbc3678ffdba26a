//! `upgradectl pack`: the .charm layout charmcraft produces, checked on a pack made with a
//! stand-in dispatch (this package's own binary) so the test needs no release build.

use std::io::Read;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

fn pack(out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_upgradectl"))
        .args(["pack", "--project"])
        .arg(root())
        .arg("--out")
        .arg(out)
        .arg("--dispatch")
        .arg(env!("CARGO_BIN_EXE_upgradectl"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn packs_the_charm_as_charmcraft_lays_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = pack(dir.path(), &["--base", "ubuntu@24.04", "--arch", "amd64"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir
        .path()
        .join("upgrade-reference_ubuntu@24.04-amd64.charm");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    assert_eq!(
        names,
        [
            "dispatch",
            "manifest.yaml",
            "metadata.yaml",
            "actions.yaml",
            "config.yaml",
            "versions.json"
        ]
    );
    assert_eq!(
        zip.by_name("dispatch").unwrap().unix_mode().unwrap() & 0o777,
        0o755
    );
    assert_eq!(
        zip.by_name("metadata.yaml").unwrap().unix_mode().unwrap() & 0o777,
        0o644
    );
    let mut manifest = String::new();
    zip.by_name("manifest.yaml")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    assert!(
        manifest
            .contains("bases:\n- architectures:\n  - amd64\n  channel: '24.04'\n  name: ubuntu\n"),
        "{manifest}"
    );
    let mut versions = String::new();
    zip.by_name("versions.json")
        .unwrap()
        .read_to_string(&mut versions)
        .unwrap();
    assert_eq!(
        versions,
        std::fs::read_to_string(root().join("versions.json")).unwrap()
    );

    // Same inputs, same bytes.
    let first = std::fs::read(&path).unwrap();
    assert!(
        pack(dir.path(), &["--base", "ubuntu@24.04", "--arch", "amd64"])
            .status
            .success()
    );
    assert_eq!(first, std::fs::read(&path).unwrap());
}

#[test]
fn the_next_revision_ships_its_own_versions_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let next = root().join("charm-revisions/versions-1.1.0.json");
    let out = pack(
        dir.path(),
        &[
            "--arch",
            "amd64",
            "--suffix",
            "-next",
            "--versions",
            next.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir
        .path()
        .join("upgrade-reference-next_ubuntu@24.04-amd64.charm")
        .exists());

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"workload": {"dependencies": {}, "name": "w", "upgrade_supported": ">5", "version": "1"}}"#).unwrap();
    let out = pack(
        dir.path(),
        &["--arch", "amd64", "--versions", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot be shipped")
            && err.contains("upgrade_supported value >5 greater than version value 1"),
        "{err}"
    );

    let out = pack(dir.path(), &["--arch", "amd64", "--base", "ubuntu@20.04"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported base"));
}

#[test]
fn the_name_comes_from_metadata_yaml_read_as_yaml() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("metadata.yaml"),
        "# The charm.\nname: kv-store   # what juju deploy calls it\nsummary: 'x'\npeers:\n  upgrade:\n    interface: upgrade\n",
    )
    .unwrap();
    std::fs::copy(
        root().join("versions.json"),
        project.path().join("versions.json"),
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_upgradectl"))
        .args(["pack", "--project"])
        .arg(project.path())
        .arg("--out")
        .arg(out_dir.path())
        .arg("--dispatch")
        .arg(env!("CARGO_BIN_EXE_upgradectl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("kv-store_ubuntu@"), "{names:?}");
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(out_dir.path().join(&names[0])).unwrap()).unwrap();
    let mut manifest = String::new();
    zip.by_name("manifest.yaml")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    assert!(
        !manifest.contains("charmcraft-"),
        "claims charmcraft ran: {manifest}"
    );
    assert!(manifest.contains("packed-by: upgradectl"), "{manifest}");
}
