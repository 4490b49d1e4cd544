//! Unit tests of `availability`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::probe_command;

#[test]
fn finds_a_tool_and_reads_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("fake-tool");
    fs::write(
        &tool,
        "#!/bin/sh\necho\necho 'fake-tool 1.2.3'\necho more\n",
    )
    .unwrap();
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let env = BTreeMap::from([(
        "PATH".to_owned(),
        format!("{}:/usr/bin:/bin", dir.path().display()),
    )]);
    let availability = probe_command("fake-tool", &env);
    assert_eq!(availability.found.as_deref(), Some(tool.as_path()));
    assert_eq!(availability.version.as_deref(), Some("fake-tool 1.2.3"));
    assert_eq!(availability.error, None);
}

#[test]
fn missing_tool_reports_not_found() {
    let availability = probe_command("pipeline-no-such-tool-xyz", &BTreeMap::new());
    assert_eq!(availability.found, None);
    let error = availability.error.unwrap();
    assert!(
        error.contains("`pipeline-no-such-tool-xyz` not found"),
        "{error}"
    );
}

#[test]
fn failing_version_flag_gives_no_version() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("no-version");
    fs::write(&tool, "#!/bin/sh\necho 'usage: no-version' >&2\nexit 2\n").unwrap();
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let availability = probe_command(tool.to_str().unwrap(), &BTreeMap::new());
    assert_eq!(availability.found.as_deref(), Some(tool.as_path()));
    assert_eq!(availability.version, None);
    assert_eq!(availability.error, None);
}
