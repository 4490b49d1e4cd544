//! File scopes: which repository paths a step may change (`files_scope` + `files_create`).
//!
//! An entry is a repository-relative path. It matches that exact file, everything below it
//! when it names a directory (`src/api` matches `src/api/handler.py`; a trailing `/` is
//! allowed), or, when it contains a glob metacharacter (`* ? [ {`), the paths the glob
//! matches (`globset` syntax; `**` crosses directories). The original format lists plain
//! paths and directories; globs are an extension.

use globset::{Glob, GlobMatcher};

/// Why a scope entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopePathError {
    #[error("path is empty")]
    Empty,
    #[error("absolute path `{0}`: scopes are relative to the repository root")]
    Absolute(String),
    #[error("path `{0}` escapes the repository with `..`")]
    ParentDir(String),
    #[error("invalid glob `{0}`: {1}")]
    Glob(String, String),
}

/// Checks that a scope entry stays inside the repository: not empty, not absolute (`/x`,
/// `C:\x`, `\\server`), no `..` component.
pub fn check_scope_path(entry: &str) -> Result<(), ScopePathError> {
    let trimmed = entry.trim();
    if trimmed.is_empty() {
        return Err(ScopePathError::Empty);
    }
    let bytes = trimmed.as_bytes();
    let windows_drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if trimmed.starts_with('/') || trimmed.starts_with('\\') || windows_drive {
        return Err(ScopePathError::Absolute(entry.to_string()));
    }
    if trimmed.split(['/', '\\']).any(|c| c == "..") {
        return Err(ScopePathError::ParentDir(entry.to_string()));
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Entry {
    /// Exact file or directory prefix, normalised: no `./`, no trailing `/`.
    Path(String),
    Glob {
        literal_prefix: String,
        matcher: GlobMatcher,
    },
}

/// A compiled file scope. An empty scope allows nothing; use `Option<FileScope>` for "no
/// scope declared".
#[derive(Debug, Clone)]
pub struct FileScope {
    entries: Vec<Entry>,
}

fn normalise(entry: &str) -> String {
    let mut s = entry.trim().replace('\\', "/");
    while let Some(rest) = s.strip_prefix("./") {
        s = rest.to_string();
    }
    while s.ends_with('/') {
        s.pop();
    }
    s
}

impl FileScope {
    /// Compiles scope entries. Errors name the first bad entry; the loader has already
    /// rejected absolute and `..` paths, this re-checks so the type is safe on its own.
    pub fn new<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<FileScope, ScopePathError> {
        let mut out = Vec::new();
        for raw in entries {
            check_scope_path(raw)?;
            let e = normalise(raw);
            if e.contains(['*', '?', '[', '{']) {
                let glob = Glob::new(&e)
                    .map_err(|err| ScopePathError::Glob(raw.to_string(), err.kind().to_string()))?;
                let literal_prefix = e
                    .split(['*', '?', '[', '{'])
                    .next()
                    .unwrap_or("")
                    .rsplit_once('/')
                    .map(|(dir, _)| dir.to_string())
                    .unwrap_or_default();
                out.push(Entry::Glob {
                    literal_prefix,
                    matcher: glob.compile_matcher(),
                });
            } else if e.is_empty() || e == "." {
                // "." means the whole repository.
                out.push(Entry::Path(String::new()));
            } else {
                out.push(Entry::Path(e));
            }
        }
        Ok(FileScope { entries: out })
    }

    /// Whether a repository-relative path (`/`-separated) is inside the scope.
    pub fn allows(&self, path: &str) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::Path(p) => {
                p.is_empty()
                    || path == p
                    || path
                        .strip_prefix(p.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            }
            Entry::Glob { matcher, .. } => matcher.is_match(path),
        })
    }

    /// Whether two scopes may claim a common path. Conservative for globs: a glob is
    /// treated as the directory before its first metacharacter.
    pub fn overlaps(&self, other: &FileScope) -> bool {
        fn prefix(e: &Entry) -> &str {
            match e {
                Entry::Path(p) => p,
                Entry::Glob { literal_prefix, .. } => literal_prefix,
            }
        }
        fn nested(a: &str, b: &str) -> bool {
            a.is_empty()
                || b.is_empty()
                || a == b
                || b.strip_prefix(a).is_some_and(|r| r.starts_with('/'))
        }
        self.entries.iter().any(|a| {
            other.entries.iter().any(|b| {
                let (pa, pb) = (prefix(a), prefix(b));
                nested(pa, pb) || nested(pb, pa)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_paths_escaping_the_repository() {
        assert_eq!(
            check_scope_path("/etc/passwd"),
            Err(ScopePathError::Absolute("/etc/passwd".into()))
        );
        assert_eq!(
            check_scope_path("C:\\x"),
            Err(ScopePathError::Absolute("C:\\x".into()))
        );
        assert_eq!(
            check_scope_path("src/../../x"),
            Err(ScopePathError::ParentDir("src/../../x".into()))
        );
        assert_eq!(check_scope_path(" "), Err(ScopePathError::Empty));
        assert!(check_scope_path("src/..hidden/x").is_ok());
    }

    #[test]
    fn matches_files_directories_and_globs() {
        let s = FileScope::new(["src/api", "./README.md", "docs/**/*.md", "lib/"]).unwrap();
        assert!(s.allows("src/api/handler.py"));
        assert!(s.allows("src/api"));
        assert!(!s.allows("src/apis/x.py"));
        assert!(s.allows("README.md"));
        assert!(!s.allows("README.md.bak"));
        assert!(s.allows("docs/a/b/c.md"));
        assert!(!s.allows("docs/a/b/c.txt"));
        assert!(s.allows("lib/x"));
    }

    #[test]
    fn overlap_is_symmetric_and_prefix_aware() {
        let a = FileScope::new(["src/api"]).unwrap();
        let b = FileScope::new(["src/api/handler.py"]).unwrap();
        let c = FileScope::new(["src/apis"]).unwrap();
        let g = FileScope::new(["src/**/*.py"]).unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(g.overlaps(&c));
        assert!(!FileScope::new(["docs"]).unwrap().overlaps(&g));
    }
}
