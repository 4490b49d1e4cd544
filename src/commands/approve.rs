//! `pipeline approve` and `pipeline reject`: decide a step awaiting approval.

use super::exit;
use crate::cli::DecisionArgs;
use crate::command_error::CommandError;

/// `pipeline approve RUN STEP [--comment TEXT] [--by NAME]`.
pub fn approve(args: &DecisionArgs) -> Result<i32, CommandError> {
    let _ = args;
    Err(CommandError::internal(
        "approvals are not built yet (issue #12)",
    ))
}

/// `pipeline reject RUN STEP --comment TEXT [--by NAME]`.
pub fn reject(args: &DecisionArgs) -> Result<i32, CommandError> {
    let _ = (args, exit::OK);
    Err(CommandError::internal(
        "approvals are not built yet (issue #12)",
    ))
}
