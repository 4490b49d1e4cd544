//! Unit tests of `program_resolver`.

use super::{child_path, forget, resolve};
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;

fn executable(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn finds_the_first_executable_and_remembers_it() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    // Not executable: skipped, as exec would skip it.
    std::fs::write(first.path().join("tool-a"), "x").unwrap();
    let expected = executable(second.path(), "tool-a");
    let path = std::env::join_paths([first.path(), second.path()]).unwrap();
    assert_eq!(
        resolve(OsStr::new("tool-a"), Some(&path)),
        Some(expected.clone())
    );
    // Cached: found even after the file is gone, until forgotten.
    std::fs::remove_file(&expected).unwrap();
    assert_eq!(resolve(OsStr::new("tool-a"), Some(&path)), Some(expected));
    forget(OsStr::new("tool-a"), Some(&path));
    assert_eq!(resolve(OsStr::new("tool-a"), Some(&path)), None);
}

#[test]
fn paths_relative_entries_and_missing_path_are_not_resolved() {
    let dir = tempfile::tempdir().unwrap();
    executable(dir.path(), "tool-b");
    let absolute = dir.path().as_os_str().to_os_string();
    assert_eq!(resolve(OsStr::new("./tool-b"), Some(&absolute)), None);
    assert_eq!(resolve(OsStr::new("tool-b"), None), None);
    let mut with_relative = OsString::from("relative/bin:");
    with_relative.push(&absolute);
    assert_eq!(resolve(OsStr::new("tool-b"), Some(&with_relative)), None);
}

#[test]
fn child_path_follows_the_spec_environment() {
    let env = vec![
        (OsString::from("PATH"), OsString::from("/one")),
        (OsString::from("PATH"), OsString::from("/two")),
    ];
    assert_eq!(child_path(&env, true), Some(OsString::from("/two")));
    assert_eq!(child_path(&[], true), None);
    assert_eq!(child_path(&[], false), std::env::var_os("PATH"));
}
