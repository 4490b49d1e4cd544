//! The process exit codes of `pipeline`: one table, shared by every command.
//!
//! Scripts and CI read these codes, so they are part of the interface (README "Exit
//! codes"). Library errors say which code they map to (e.g. `EngineError::exit_code`);
//! the binary maps every outcome and every error to one of these constants in one place
//! and prints the error once. Modelled on nextest's `NextestExitCode`.
//!
//! The codes separate what a caller does next: 1 means the work ran and its result is a
//! failure (look at the result); 2 means the request was wrong (fix the command or the
//! input, nothing was done); 3 means the tool or its environment failed (report or retry);
//! 129, 130 and 143 mean a signal stopped it (SIGHUP, SIGINT, SIGTERM: resume it).

/// Every step completed; the command did what it was asked.
pub const OK: i32 = 0;

/// The work ran and its result is a failure: a step failed (so the run failed), or a
/// check found problems (`spec validate` found errors, `spec deps` found a cycle or a
/// missing dependency, `spec archive` was refused for the change's content).
pub const FAILED: i32 = 1;

/// Invalid input or usage: bad arguments (clap's usage errors included), invalid
/// workstream files, an unknown run, step or OpenSpec item, a directory that is no git
/// repository, a state database that is newer or locked. Nothing was run.
pub const INVALID: i32 = 2;

/// Internal or state error: a bug, or a failure of the environment the command relies on
/// (the state database, git, a file that cannot be read or written), including a damaged
/// state database, which is refused untouched.
pub const INTERNAL: i32 = 3;

/// Hung up (SIGHUP: a closed terminal or tmux window): the run stopped cleanly, as on
/// Ctrl-C, and stays resumable. 128 + 1, the shell's code for a process ended by SIGHUP.
pub const HANGUP: i32 = 129;

/// Interrupted (Ctrl-C): the run stopped cleanly and stays resumable. 128 + 2, the
/// shell's code for a process ended by SIGINT.
pub const INTERRUPTED: i32 = 130;

/// Terminated (SIGTERM: a CI runner cancelling a job, `kill`): the run stopped cleanly,
/// as on Ctrl-C, and stays resumable. 128 + 15, the shell's code for a process ended by
/// SIGTERM.
pub const TERMINATED: i32 = 143;

/// Every code of the table, in ascending order, with the name it has here.
pub const ALL: [(&str, i32); 7] = [
    ("OK", OK),
    ("FAILED", FAILED),
    ("INVALID", INVALID),
    ("INTERNAL", INTERNAL),
    ("HANGUP", HANGUP),
    ("INTERRUPTED", INTERRUPTED),
    ("TERMINATED", TERMINATED),
];
