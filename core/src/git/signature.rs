//! Who the engine's commits are by.

use std::path::Path;

use super::GitError;

/// Fallback author and committer name when the repository configuration has none.
pub(crate) const DEFAULT_NAME: &str = "pipeline";
/// Fallback author and committer email when the repository configuration has none.
pub(crate) const DEFAULT_EMAIL: &str = "pipeline@localhost";

/// `user.name` and `user.email` as the repository's configuration resolves them
/// (repository, global and system files), each falling back to [`DEFAULT_NAME`] /
/// [`DEFAULT_EMAIL`] when unset, timestamped now.
///
/// Errors: [`GitError::Git`] when the configured values are unusable (e.g. contain
/// `<` or `>`).
pub(crate) fn signature(
    repo: &git2::Repository,
    path: &Path,
) -> Result<git2::Signature<'static>, GitError> {
    let config = repo.config().ok();
    let read = |key: &str| {
        config
            .as_ref()
            .and_then(|config| config.get_string(key).ok())
            .filter(|value| !value.trim().is_empty())
    };
    let name = read("user.name").unwrap_or_else(|| DEFAULT_NAME.to_string());
    let email = read("user.email").unwrap_or_else(|| DEFAULT_EMAIL.to_string());
    git2::Signature::now(&name, &email).map_err(GitError::git(
        format!("make a commit signature from user.name `{name}` and user.email `{email}`"),
        path,
    ))
}
