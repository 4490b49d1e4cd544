//! What a step's result may not contain: symlinks that resolve outside the repository,
//! and nested git repositories (docs/SECURITY.md "Results").
//!
//! A committed symlink `s/outfile -> ~/notes.txt` lets every later step, and the user's
//! own checkout of the result, write outside the repository through it; a link to
//! `../.git/config` or `.git/hooks/...` reaches the git directory that every worktree
//! shares. So each symlink a step adds or changes is resolved against the repository
//! root, lexically: its target text is read from the staged tree, never followed on
//! disk (the target may not exist, and the worktree is not the only place the result
//! will be checked out). A link escapes when its target is absolute, when a `..` climbs
//! above the repository root, or when it ends in a `.git` directory (any path with a
//! `.git` component, which git itself never tracks). Links the target passes through
//! are substituted as the kernel would (`d -> x/y` then `e -> d/../..`), using the
//! staged tree, so a chain of links that are each harmless cannot climb out; a chain
//! longer than the kernel's 40 links cannot be followed at all and is not an escape.
//!
//! A nested repository (an untracked directory with its own `.git`, e.g. a `git init`
//! or `git clone` by the tool) would be committed by git as a bare submodule link
//! without its files; staging leaves it out and reports it here instead of dropping it
//! silently. A submodule already tracked at the start is not new and not reported.
//!
//! The engine turns both into a scope violation of the step unless the step lists the
//! link in `allow_symlinks` ([`StagedChanges::violations`]).

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::StagedChanges;
use super::tree_diff::TreeChange;

/// How many links a resolution may pass through: Linux's limit (`MAXSYMLINKS`, 40), past
/// which the kernel refuses to follow a path (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Why a symlink of a result resolves outside the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEscape {
    /// The target (or a link it passes through) is an absolute path: it means something
    /// else in every checkout and is never inside the repository's committed tree.
    Absolute,
    /// A `..` of the target climbs above the repository root.
    LeavesRepository,
    /// The target ends in a `.git` directory (the git directory the worktrees share, or
    /// a submodule's).
    IntoGitDir,
}

impl fmt::Display for LinkEscape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkEscape::Absolute => "absolute target",
            LinkEscape::LeavesRepository => "leaves the repository",
            LinkEscape::IntoGitDir => "points into the git directory",
        })
    }
}

/// A symlink the step added or changed whose target resolves outside the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscapingLink {
    /// Repository-relative path of the link, `/`-separated, e.g. `s/outfile`.
    pub path: String,
    /// The link's target as stored (lossy UTF-8), e.g. `../../x` or `/etc/passwd`.
    pub target: String,
    /// Why it escapes.
    pub reason: LinkEscape,
}

/// Resolves the target `target` of the link at repository-relative `link` (`/`-separated)
/// lexically against the repository root. `lookup(components)` gives the target of the
/// link at a repository-relative path, if that path is a link (in the staged tree); links
/// the resolution passes through are followed through it. `Ok` when the target stays
/// inside the repository (or cannot be followed at all: more than 40 links).
///
/// Errors: the [`LinkEscape`] of the first way out found.
pub(crate) fn resolve_link<F>(link: &str, target: &[u8], mut lookup: F) -> Result<(), LinkEscape>
where
    F: FnMut(&[Vec<u8>]) -> Option<Vec<u8>>,
{
    // Where the resolution stands, from the root; a relative target starts in the link's
    // directory.
    let mut current: Vec<Vec<u8>> = components(link.as_bytes()).collect();
    current.pop();
    // Components still to walk, the next one last (a stack): a followed link's
    // components go on top.
    let mut pending: Vec<Vec<u8>> = Vec::new();
    push_target(&mut pending, target)?;
    let mut links = 0;
    while let Some(component) = pending.pop() {
        match component.as_slice() {
            b"." => {}
            b".." => {
                if current.pop().is_none() {
                    return Err(LinkEscape::LeavesRepository);
                }
            }
            _ => {
                current.push(component);
                let Some(next) = lookup(&current) else {
                    continue;
                };
                links += 1;
                if links > MAX_LINKS {
                    return Ok(());
                }
                current.pop();
                push_target(&mut pending, &next)?;
            }
        }
    }
    if current
        .iter()
        .any(|component| component.eq_ignore_ascii_case(b".git"))
    {
        return Err(LinkEscape::IntoGitDir);
    }
    Ok(())
}

/// Pushes the components of `target` onto `pending` so that its first one is on top.
/// Errors: [`LinkEscape::Absolute`] for an absolute target.
fn push_target(pending: &mut Vec<Vec<u8>>, target: &[u8]) -> Result<(), LinkEscape> {
    if target.first() == Some(&b'/') {
        return Err(LinkEscape::Absolute);
    }
    let at = pending.len();
    pending.extend(components(target));
    pending[at..].reverse();
    Ok(())
}

/// The non-empty components of a `/`-separated path.
fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
}

/// The symlinks among `changes` (added or changed in `tree`, the staged tree) whose target
/// resolves outside the repository, in path order. Cost: one blob read per changed link
/// plus one tree lookup per component of its target.
///
/// Errors: `git2::Error` when a link's blob cannot be read.
pub(crate) fn escaping_links(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    changes: &[TreeChange],
) -> Result<Vec<EscapingLink>, git2::Error> {
    let mut out = Vec::new();
    for change in changes {
        let Some((id, git2::FileMode::Link)) = change.new else {
            continue;
        };
        let target = repo.find_blob(id)?.content().to_vec();
        let path = change.path.to_string_lossy().into_owned();
        let lookup = |at: &[Vec<u8>]| link_target(repo, tree, at);
        if let Err(reason) = resolve_link(&path, &target, lookup) {
            out.push(EscapingLink {
                path,
                target: String::from_utf8_lossy(&target).into_owned(),
                reason,
            });
        }
    }
    Ok(out)
}

/// The target of the link at the path made of `components` in `tree`, if it is a link.
fn link_target(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    components: &[Vec<u8>],
) -> Option<Vec<u8>> {
    let joined = components.join(&b'/');
    let entry = tree
        .get_path(Path::new(std::ffi::OsStr::from_bytes(&joined)))
        .ok()?;
    if entry.filemode() != i32::from(git2::FileMode::Link) {
        return None;
    }
    let blob = repo.find_blob(entry.id()).ok()?;
    Some(blob.content().to_vec())
}

impl StagedChanges {
    /// What the step's result may not contain, as the text of a scope violation, or
    /// `None` when it is fine: the [`escaping_links`](StagedChanges::escaping_links) that
    /// `allowed` (the step's `allow_symlinks`) does not accept, naming each link and its
    /// target, and every [nested repository](StagedChanges::nested_repositories).
    pub fn violations(&self, allowed: impl Fn(&str) -> bool) -> Option<String> {
        let links: Vec<String> = self
            .escaping_links
            .iter()
            .filter(|link| !allowed(&link.path))
            .map(|link| format!("{} -> {} ({})", link.path, link.target, link.reason))
            .collect();
        let mut parts = Vec::new();
        if !links.is_empty() {
            parts.push(format!(
                "symlinks resolving outside the repository: {} (list a link in allow_symlinks to keep it)",
                links.join(", ")
            ));
        }
        if !self.nested_repositories.is_empty() {
            parts.push(format!(
                "nested git repositories: {} (a directory with its own .git is committed as a bare submodule link without its files; remove its .git, or make it a submodule in the base)",
                self.nested_repositories.join(", ")
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Resolves `link -> target` in a tree whose links are `links` (path -> target).
    fn check(link: &str, target: &str, links: &[(&str, &str)]) -> Result<(), LinkEscape> {
        let links: HashMap<Vec<u8>, Vec<u8>> = links
            .iter()
            .map(|(p, t)| (p.as_bytes().to_vec(), t.as_bytes().to_vec()))
            .collect();
        let lookup = |at: &[Vec<u8>]| links.get(&at.join(&b'/')).cloned();
        resolve_link(link, target.as_bytes(), lookup)
    }

    #[test]
    fn targets_inside_the_repository_are_fine() {
        assert_eq!(check("a", "b/c", &[]), Ok(()));
        assert_eq!(check("s/outfile", "../README.md", &[]), Ok(()));
        assert_eq!(check("x/y/z", "../../.", &[]), Ok(()));
        assert_eq!(check("a", ".", &[]), Ok(()));
        assert_eq!(check("a/b", "./c//d/", &[]), Ok(()));
        assert_eq!(check("docs/latest", "v2/../v3", &[]), Ok(()));
        // A `.git` passed through and left again ends inside.
        assert_eq!(check("a", ".git/../x", &[]), Ok(()));
        // Not a `.git` component.
        assert_eq!(check("a", ".github/x", &[]), Ok(()));
        assert_eq!(check("a", "x.git", &[]), Ok(()));
    }

    #[test]
    fn absolute_targets_escape() {
        assert_eq!(
            check("s/outfile", "/etc/passwd", &[]),
            Err(LinkEscape::Absolute)
        );
        assert_eq!(check("a", "/", &[]), Err(LinkEscape::Absolute));
        assert_eq!(check("a", "//x", &[]), Err(LinkEscape::Absolute));
    }

    #[test]
    fn climbing_above_the_root_escapes_even_when_it_comes_back() {
        assert_eq!(check("a", "..", &[]), Err(LinkEscape::LeavesRepository));
        assert_eq!(
            check("s/outfile", "../../x", &[]),
            Err(LinkEscape::LeavesRepository)
        );
        assert_eq!(
            check("a", "../.git/config", &[]),
            Err(LinkEscape::LeavesRepository)
        );
        // Back in through the worktree's own directory name: not the repository in any
        // other checkout.
        assert_eq!(
            check("a", "../repo/README.md", &[]),
            Err(LinkEscape::LeavesRepository)
        );
        assert_eq!(
            check("x/y/a", "../b/../../../c", &[]),
            Err(LinkEscape::LeavesRepository)
        );
    }

    #[test]
    fn targets_in_a_git_directory_escape() {
        assert_eq!(check("a", ".git/config", &[]), Err(LinkEscape::IntoGitDir));
        assert_eq!(
            check("s/x", "../.git/hooks", &[]),
            Err(LinkEscape::IntoGitDir)
        );
        assert_eq!(check("a", ".git", &[]), Err(LinkEscape::IntoGitDir));
        assert_eq!(check("a", ".GIT/HEAD", &[]), Err(LinkEscape::IntoGitDir));
        assert_eq!(
            check("a", "sub/.git/config", &[]),
            Err(LinkEscape::IntoGitDir)
        );
    }

    #[test]
    fn links_on_the_way_are_followed_in_the_tree() {
        // Each link alone stays inside; `e` climbs out through `x/y/d`, which lives
        // one level deeper than where it points.
        let links = [("x/y/d", "../../z")];
        assert_eq!(check("x/y/d", "../../z", &[]), Ok(()));
        assert_eq!(
            check("x/y/e", "d/../../../etc", &links),
            Err(LinkEscape::LeavesRepository)
        );
        // Lexically it would stay inside.
        assert_eq!(check("x/y/e", "d/../../../etc", &[]), Ok(()));
        // Through a link to an absolute path, and a link to a link to `.git`.
        assert_eq!(
            check("a", "ext/file", &[("ext", "/opt/ext")]),
            Err(LinkEscape::Absolute)
        );
        assert_eq!(
            check("a", "b", &[("b", "c"), ("c", ".git")]),
            Err(LinkEscape::IntoGitDir)
        );
        // Through a link that stays inside.
        assert_eq!(check("a", "lib/x", &[("lib", "vendor/lib")]), Ok(()));
    }

    #[test]
    fn a_loop_cannot_be_followed_and_does_not_escape() {
        assert_eq!(check("a", "a", &[("a", "a")]), Ok(()));
        assert_eq!(check("a", "b/x", &[("a", "b/x"), ("b", "a")]), Ok(()));
    }

    #[test]
    fn violations_name_each_link_with_its_target_unless_allowed() {
        let staged = StagedChanges {
            changes: Vec::new(),
            tree: git2::Oid::ZERO_SHA1,
            walked: true,
            nested_repositories: vec!["nested".into()],
            escaping_links: vec![
                EscapingLink {
                    path: "s/outfile".into(),
                    target: "/tmp/x".into(),
                    reason: LinkEscape::Absolute,
                },
                EscapingLink {
                    path: "up".into(),
                    target: "../x".into(),
                    reason: LinkEscape::LeavesRepository,
                },
            ],
        };
        let text = staged.violations(|p| p == "up").expect("violations");
        assert!(
            text.starts_with(
                "symlinks resolving outside the repository: s/outfile -> /tmp/x (absolute target) ("
            ),
            "{text}"
        );
        assert!(!text.contains("up ->"), "{text}");
        assert!(
            text.contains("; nested git repositories: nested ("),
            "{text}"
        );
        let only_links = StagedChanges {
            nested_repositories: Vec::new(),
            ..staged
        };
        assert_eq!(only_links.violations(|_| true), None);
    }
}
