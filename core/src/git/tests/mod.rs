//! Tests of the git module on real temporary repositories, checked with libgit2 and
//! with the real `git` command line where the brief asks for git's own view.

mod changes_and_commit;
mod fixture;
mod merge;
mod pool;
mod repository;
mod result_containment;
mod tracking;
