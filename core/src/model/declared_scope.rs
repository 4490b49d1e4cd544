//! Reading an object's declared file scope (`files_scope` + `files_create`) and the paths
//! of its `context_files`, rejecting paths that leave the repository.

use std::path::Path;

use super::raw_workstream::RawFields;
use super::{FileScope, ValidationDiagnostic, check_scope_path};

/// `files_scope` + `files_create` of an object (at `pointer`), without duplicates, when
/// either is present; each bad path is an error pointing at its entry, and the kept entries
/// must compile as a [`FileScope`].
pub(crate) fn declared_scope(
    fields: &RawFields,
    file: &Path,
    pointer: &str,
    id: &str,
    diags: &mut Vec<ValidationDiagnostic>,
) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut present = false;
    for (key, entries) in [
        ("files_scope", &fields.files_scope),
        ("files_create", &fields.files_create),
    ] {
        let Some(entries) = entries else { continue };
        present = true;
        for (i, e) in entries.iter().enumerate() {
            match check_scope_path(e) {
                Ok(()) => {
                    if !out.iter().any(|x| x == e) {
                        out.push(e.clone());
                    }
                }
                Err(err) => diags.push(
                    ValidationDiagnostic::error(
                        file,
                        format!("{pointer}/{key}/{i}"),
                        format!("{key}: {err}"),
                    )
                    .with_step(id)
                    .with_hint(
                        "scope paths are relative to the repository root and stay inside it",
                    ),
                ),
            }
        }
    }
    if let Err(err) = FileScope::new(out.iter().map(String::as_str)) {
        diags.push(
            ValidationDiagnostic::error(
                file,
                format!("{pointer}/files_scope"),
                format!("files_scope: {err}"),
            )
            .with_step(id),
        );
    }
    present.then_some(out)
}

/// Errors for the entries of the step's repository-relative path lists that leave the
/// repository: the step's own entries (at `pointer`), else its workstream's (at the
/// workstream's pointer). The lists are [`INHERITED_PATH_LISTS`].
pub(crate) fn check_inherited_path_lists(
    own: &RawFields,
    pointer: &str,
    workstream: Option<(&RawFields, &str)>,
    file: &Path,
    id: &str,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    for list in INHERITED_PATH_LISTS {
        list.check(own, pointer, workstream, file, id, diags);
    }
}

/// The path lists a step inherits from its workstream, each checked by
/// [`check_inherited_path_lists`]:
/// - `context_files`: files given to an AI tool as context;
/// - `allow_symlinks`: links the step's result may hold (repository-relative like
///   `files_scope`);
/// - `inputs`: the paths the step reads, which narrow its cache key (docs/CACHE.md);
/// - `copy_into_worktree`: untracked files copied from the main checkout into its worktree.
const INHERITED_PATH_LISTS: [InheritedList; 4] = [
    InheritedList {
        key: "context_files",
        of: |f| &f.context_files,
    },
    InheritedList {
        key: "allow_symlinks",
        of: |f| &f.allow_symlinks,
    },
    InheritedList {
        key: "inputs",
        of: |f| &f.inputs,
    },
    InheritedList {
        key: "copy_into_worktree",
        of: |f| &f.copy_into_worktree,
    },
];

/// A list of repository-relative paths that a step inherits from its workstream when it
/// has none of its own.
struct InheritedList {
    key: &'static str,
    of: fn(&RawFields) -> &Option<Vec<String>>,
}

impl InheritedList {
    fn check(
        &self,
        own: &RawFields,
        pointer: &str,
        workstream: Option<(&RawFields, &str)>,
        file: &Path,
        id: &str,
        diags: &mut Vec<ValidationDiagnostic>,
    ) {
        let key = self.key;
        let (entries, at) = match ((self.of)(own), workstream) {
            (Some(entries), _) => (entries, pointer),
            (None, Some((ws, ws_pointer))) => match (self.of)(ws) {
                Some(entries) => (entries, ws_pointer),
                None => return,
            },
            (None, None) => return,
        };
        for (i, entry) in entries.iter().enumerate() {
            if let Err(err) = check_scope_path(entry) {
                diags.push(
                    ValidationDiagnostic::error(
                        file,
                        format!("{at}/{key}/{i}"),
                        format!("{key}: {err}"),
                    )
                    .with_step(id),
                );
            }
        }
    }
}
