//! `pipeline schema`: prints a JSON Schema (2020-12) compiled into the binary, so an
//! editor can complete and check workstream files without the pipeline sources:
//! `pipeline schema > schema/workstream.schema.json`, then `"$schema":
//! "../schema/workstream.schema.json"` in a file under `workstreams/`
//! (docs/GETTING_STARTED.md).

use std::io::Write;

use crate::cli::SchemaKind;
use crate::command_error::CommandError;
use crate::commands::exit;

/// `schema/workstream.schema.json`: the workstream file format.
pub const WORKSTREAM_SCHEMA: &str = include_str!("../../schema/workstream.schema.json");

/// `schema/events.schema.json`: journal entries as `--json` prints them.
pub const EVENTS_SCHEMA: &str = include_str!("../../schema/events.schema.json");

/// Prints the chosen schema on stdout, byte for byte as the file in `schema/`. Exit 0.
/// A reader that went away ends the output quietly (SIGPIPE is at its default).
///
/// Errors: internal when stdout cannot be written.
pub fn schema(kind: SchemaKind) -> Result<i32, CommandError> {
    let text = match kind {
        SchemaKind::Workstream => WORKSTREAM_SCHEMA,
        SchemaKind::Events => EVENTS_SCHEMA,
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| CommandError::internal(format!("cannot write the schema: {e}")))?;
    Ok(exit::OK)
}
