//! The prompt as a command-line argument, for CLIs that take it that way (Codex, Claude
//! Code). Linux refuses a single argument over 128 KiB (`MAX_ARG_STRLEN`), so a longer
//! prompt is replaced by an instruction to read the prompt file, which every adapter
//! writes outside the worktree.

use std::path::Path;

/// Longest prompt, in bytes, passed as an argument; leaves room below `MAX_ARG_STRLEN`.
pub(crate) const MAX_PROMPT_ARG_BYTES: usize = 100 * 1024;

/// The prompt itself, or for prompts over [`MAX_PROMPT_ARG_BYTES`] an instruction to read
/// it from `prompt_file`.
pub(crate) fn prompt_argument(prompt: &str, prompt_file: &Path) -> String {
    if prompt.len() <= MAX_PROMPT_ARG_BYTES {
        return prompt.to_owned();
    }
    format!(
        "Your instructions are too long for the command line and are in the file {}. Read that file in full first, then do exactly what it asks.",
        prompt_file.display()
    )
}
