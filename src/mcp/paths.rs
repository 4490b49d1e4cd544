//! Workstream paths a client names, confined to the repository.
//!
//! An MCP client (a coding agent) names workstream files relative to the repository
//! root, or absolutely. Either way the path must stay inside the repository: no `..`
//! climbing out of it, no absolute path elsewhere, no symbolic link pointing out of it
//! (the same rule as the REST API's, issue #12 "Security"). A path that breaks the rule
//! is refused with a message naming it, before anything reads it.

use std::path::{Component, Path, PathBuf};

/// `given` resolved against `root` (the repository's top directory, canonical): the
/// canonical path of an existing file or directory inside `root`.
///
/// Errors (a message naming `given`): the path leaves the repository, lexically (`..`,
/// an absolute path elsewhere) or through a symbolic link; it does not exist or cannot
/// be read.
pub fn confine(root: &Path, given: &str) -> Result<PathBuf, String> {
    if given.is_empty() {
        return Err(
            "a workstream path is empty; give a file or directory relative to the repository root"
                .into(),
        );
    }
    let joined = root.join(given);
    let outside = || {
        format!(
            "workstream path `{given}` is outside the repository {}: give a file or directory inside it (relative paths start at the repository root)",
            root.display()
        )
    };
    // First without touching the file system: `..` must not climb out of `root`, and an
    // absolute path must be inside it.
    if !normalize(&joined).starts_with(root) {
        return Err(outside());
    }
    let canonical = joined.canonicalize().map_err(|e| {
        format!(
            "workstream path `{given}` cannot be read: {e} (relative paths start at the repository root {})",
            root.display()
        )
    })?;
    // Then after symbolic links are resolved.
    if !canonical.starts_with(root) {
        return Err(outside());
    }
    Ok(canonical)
}

/// `path` with `.` dropped and each `..` taking away the component before it, without
/// reading the file system (`/a/b/../../..` gives `/`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("workstreams")).expect("mkdir");
        std::fs::write(root.join("workstreams/a.json"), "{}").expect("write");
        std::fs::write(dir.path().join("secret.json"), "{}").expect("write");
        let root = root.canonicalize().expect("canonical");
        (dir, root)
    }

    #[test]
    fn paths_inside_the_repository_resolve_to_their_canonical_form() {
        let (_dir, root) = repo();
        let want = root.join("workstreams/a.json");
        assert_eq!(confine(&root, "workstreams/a.json").unwrap(), want);
        assert_eq!(
            confine(&root, "./workstreams/../workstreams/a.json").unwrap(),
            want
        );
        assert_eq!(confine(&root, want.to_str().unwrap()).unwrap(), want);
        assert_eq!(
            confine(&root, "workstreams").unwrap(),
            root.join("workstreams")
        );
    }

    #[test]
    fn paths_leaving_the_repository_are_refused_naming_them() {
        let (_dir, root) = repo();
        for given in [
            "../secret.json",
            "workstreams/../../secret.json",
            "/etc/passwd",
            "/",
        ] {
            let err = confine(&root, given).unwrap_err();
            assert!(
                err.contains(&format!("`{given}`")) && err.contains("outside the repository"),
                "{given}: {err}"
            );
        }
    }

    #[test]
    fn a_symbolic_link_out_of_the_repository_is_refused() {
        let (dir, root) = repo();
        std::os::unix::fs::symlink(dir.path().join("secret.json"), root.join("link.json"))
            .expect("symlink");
        let err = confine(&root, "link.json").unwrap_err();
        assert!(err.contains("outside the repository"), "{err}");
    }

    #[test]
    fn a_missing_path_inside_is_an_error_naming_it() {
        let (_dir, root) = repo();
        let err = confine(&root, "workstreams/missing.json").unwrap_err();
        assert!(
            err.contains("`workstreams/missing.json` cannot be read"),
            "{err}"
        );
        assert!(confine(&root, "").is_err());
    }
}
