//! Running blocking git work (libgit2 calls, file system walks) off the async threads.

use std::path::PathBuf;

use super::GitError;

/// Runs `f` on tokio's blocking pool and returns its result. A task that panicked or
/// was cancelled becomes [`GitError::Io`] ("run a git task").
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(GitError::Io {
            action: "run a git task".into(),
            path: PathBuf::new(),
            cause: std::io::Error::other(e.to_string()),
        }),
    }
}
