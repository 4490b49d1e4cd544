//! Which files make up a load: the given files, every top-level workstream file (`*.json`,
//! `*.yaml`, `*.yml`) of a given directory, and, when asked for, the sibling files of given
//! files (the other top-level workstream files of their directories, which `depends_on`
//! may reach, as in the original tool; a JSON file may depend on a YAML one and back).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ValidationDiagnostic;

/// A file to read, and whether it was given (directly or through its directory: read
/// strictly) or is only a sibling of a given file (read leniently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiscoveredFile {
    pub path: PathBuf,
    pub given: bool,
}

/// The files of `paths` in a stable order: each given path, and right after a given file
/// its siblings when `with_siblings` (sorted by name; a file met twice keeps its first
/// place and is given if it was given either time). Missing paths and empty directories
/// are errors in `diags`.
pub(crate) fn discover_files(
    paths: &[PathBuf],
    with_siblings: bool,
    diags: &mut Vec<ValidationDiagnostic>,
) -> Vec<DiscoveredFile> {
    let mut files = FileList::default();
    for given in paths {
        let meta = match std::fs::metadata(given) {
            Ok(m) => m,
            Err(e) => {
                diags.push(
                    ValidationDiagnostic::error(given, "", format!("cannot read: {e}")).with_hint(
                        "give a workstream file (.json, .yaml, .yml) or a directory of them",
                    ),
                );
                continue;
            }
        };
        if meta.is_dir() {
            let listed = workstream_files_in(given, diags);
            if listed.is_empty() {
                diags.push(ValidationDiagnostic::error(
                    given,
                    "",
                    "directory holds no top-level workstream file (*.json, *.yaml, *.yml)",
                ));
            }
            for f in listed {
                files.add(f, true);
            }
        } else {
            files.add(given.clone(), true);
            if with_siblings {
                let dir = given
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                // A sibling directory that cannot be listed only means fewer siblings.
                for f in workstream_files_in(dir, &mut Vec::new()) {
                    files.add(f, false);
                }
            }
        }
    }
    files.files
}

/// Files in discovery order, each once (by canonical path).
#[derive(Default)]
struct FileList {
    files: Vec<DiscoveredFile>,
    by_key: HashMap<PathBuf, usize>,
}

impl FileList {
    fn add(&mut self, path: PathBuf, given: bool) {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        match self.by_key.get(&key) {
            Some(&i) => self.files[i].given |= given,
            None => {
                self.by_key.insert(key, self.files.len());
                self.files.push(DiscoveredFile { path, given });
            }
        }
    }
}

/// Extensions of workstream files: JSON and YAML.
const WORKSTREAM_EXTENSIONS: &[&str] = &["json", "yaml", "yml"];

/// Top-level workstream files (`*.json`, `*.yaml`, `*.yml`) of a directory, sorted by name.
fn workstream_files_in(dir: &Path, diags: &mut Vec<ValidationDiagnostic>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(ValidationDiagnostic::error(
                dir,
                "",
                format!("cannot list directory: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| WORKSTREAM_EXTENSIONS.contains(&x))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_follow_their_given_file_and_given_wins() {
        let d = tempfile::tempdir().unwrap();
        for name in ["a.json", "b.yaml", "c.json", "d.yml", "notes.txt"] {
            std::fs::write(d.path().join(name), "{}").unwrap();
        }
        let c = d.path().join("c.json");
        let a = d.path().join("a.json");
        let given = vec![c.clone(), a.clone()];
        let only = discover_files(&given, false, &mut Vec::new());
        assert_eq!(
            only,
            vec![
                DiscoveredFile {
                    path: c.clone(),
                    given: true
                },
                DiscoveredFile {
                    path: a.clone(),
                    given: true
                }
            ]
        );
        let all = discover_files(&given, true, &mut Vec::new());
        let listed: Vec<(String, bool)> = all
            .iter()
            .map(|f| {
                (
                    f.path.file_name().unwrap().to_string_lossy().into_owned(),
                    f.given,
                )
            })
            .collect();
        assert_eq!(
            listed,
            vec![
                ("c.json".to_string(), true),
                ("a.json".to_string(), true),
                ("b.yaml".to_string(), false),
                ("d.yml".to_string(), false)
            ]
        );
    }
}
