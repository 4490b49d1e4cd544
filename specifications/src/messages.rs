//! The OpenSpec CLI's validation messages, verbatim (`validation/constants.ts`).
//!
//! Kept in one place because the oracle tests compare messages byte for byte.

/// Minimum Purpose length (UTF-16 code units) before a brevity warning.
pub const MIN_PURPOSE_LENGTH: usize = 50;
/// Requirement text length (UTF-16 code units) above which an INFO is reported.
pub const MAX_REQUIREMENT_TEXT_LENGTH: usize = 500;

/// Zod: requirement text empty.
pub const REQUIREMENT_EMPTY: &str = "Requirement text cannot be empty";
/// Zod: requirement without scenarios.
pub const REQUIREMENT_NO_SCENARIOS: &str = "Requirement must have at least one scenario";
/// Zod: spec name empty.
pub const SPEC_NAME_EMPTY: &str = "Spec name cannot be empty";
/// Zod: spec without requirements.
pub const SPEC_NO_REQUIREMENTS: &str = "Spec must have at least one requirement";
/// Change without deltas.
pub const CHANGE_NO_DELTAS: &str = "Change must have at least one delta";
/// `skip_specs` with files under `specs/`.
pub const CHANGE_SKIP_SPECS_CONFLICT: &str = "skip_specs is set in .openspec.yaml but spec files exist under specs/. Remove skip_specs or delete the delta spec files";
/// `skip_specs` honoured with zero deltas.
pub const CHANGE_SKIP_SPECS_ACCEPTED: &str = "skip_specs is set in .openspec.yaml: change declares no spec-level behavior changes, zero deltas accepted";
/// `skip_specs` set in invalid metadata.
pub const CHANGE_SKIP_SPECS_INVALID_METADATA: &str = "skip_specs is set but .openspec.yaml is not valid change metadata, so the marker is not honored. Fix the metadata";
/// Purpose shorter than [`MIN_PURPOSE_LENGTH`].
pub const PURPOSE_TOO_BRIEF: &str = "Purpose section is too brief (less than 50 characters)";
/// Purpose still a placeholder.
pub const PURPOSE_IS_PLACEHOLDER: &str = "Purpose section is still a placeholder rather than a Purpose anyone wrote (the sentence `openspec archive` writes for a new capability, or a `TBD`/`TODO` marker left in its place). Replace it with what this capability is for, editing the main spec directly: a `## Purpose` in a delta is read only when the capability is created, so it cannot replace this one.";
/// Requirement text longer than [`MAX_REQUIREMENT_TEXT_LENGTH`].
pub const REQUIREMENT_TOO_LONG: &str =
    "Requirement text is very long (>500 characters). Consider breaking it down.";
/// Guidance appended to [`CHANGE_NO_DELTAS`].
pub const GUIDE_NO_DELTAS: &str = "No deltas found. Ensure your change has a specs/ directory with capability folders (e.g. specs/http-server/spec.md) containing .md files that use delta headers (## ADDED/MODIFIED/REMOVED/RENAMED Requirements) and that each requirement includes at least one \"#### Scenario:\" block. If this change intentionally modifies no specs (pure refactor, tooling, docs), set \"skip_specs: true\" in the change's .openspec.yaml instead. Tip: run \"openspec change show <change-id> --json --deltas-only\" to inspect parsed deltas.";
/// Guidance appended to a missing Purpose/Requirements section.
pub const GUIDE_MISSING_SPEC_SECTIONS: &str = "Missing required sections. Expected headers: \"## Purpose\" and \"## Requirements\". Example:\n## Purpose\n[brief purpose]\n\n## Requirements\n### Requirement: Clear requirement statement\nUsers SHALL ...\n\n#### Scenario: Descriptive name\n- **WHEN** ...\n- **THEN** ...";
/// Guidance appended to a scenario-less requirement.
pub const GUIDE_SCENARIO_FORMAT: &str = "Scenarios must use level-4 headers. Convert bullet lists into:\n#### Scenario: Short name\n- **WHEN** ...\n- **THEN** ...\n- **AND** ...";

/// `CHANGE_NO_DELTAS` with its guidance, as validate reports it.
pub fn no_deltas_message() -> String {
    format!("{CHANGE_NO_DELTAS}. {GUIDE_NO_DELTAS}")
}

/// A requirement statement lacking SHALL/MUST (`buildMissingShallOrMustMessage`):
/// `must` (ERROR, no statement at all) or `should` (WARNING guidance).
pub fn missing_shall_or_must(prefix: &str, block_name: &str, guidance_only: bool) -> String {
    let base = format!(
        "{prefix} {} contain SHALL or MUST",
        if guidance_only { "should" } else { "must" }
    );
    let suffix = if guidance_only {
        " (RFC 2119 best practice for English specs)"
    } else {
        ""
    };
    if crate::requirement_text::contains_shall_or_must(block_name) {
        format!(
            "{base} in the requirement body, not only in the header. Move the SHALL/MUST statement to the line immediately after the \"### Requirement: ...\" header.{suffix}"
        )
    } else {
        format!("{base}{suffix}")
    }
}
