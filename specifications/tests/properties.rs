//! Property tests: the OpenSpec readers never panic, and ticking tasks preserves bytes.
//!
//! Inputs mix arbitrary Unicode with the Markdown tokens the grammar reacts to
//! (headers, fences, checkboxes, CR/LF, BOM), so the generators reach the interesting
//! branches far more often than uniformly random strings would.

use pipeline_specs::code_fence::fence_mask;
use pipeline_specs::delta::parse_delta_spec;
use pipeline_specs::requirement_block::extract_requirements_section;
use pipeline_specs::spec::parse_spec;
use pipeline_specs::spec_structure::find_main_spec_structure_issues;
use pipeline_specs::task_list::{parse_task_lines, task_progress};
use pipeline_specs::{Validator, tick_tasks};
use proptest::prelude::*;

fn markdown_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("## Purpose\n".to_string()),
        Just("## Requirements\n".to_string()),
        Just("## ADDED Requirements\n".to_string()),
        Just("## MODIFIED Requirements\n".to_string()),
        Just("## REMOVED Requirements\n".to_string()),
        Just("## RENAMED Requirements\n".to_string()),
        Just("### Requirement: ".to_string()),
        Just("#### Scenario: ".to_string()),
        Just("- FROM: `### Requirement: ".to_string()),
        Just("- TO: `### Requirement: ".to_string()),
        Just("```\n".to_string()),
        Just("~~~~\n".to_string()),
        Just("- [ ] 1.1 ".to_string()),
        Just("- [x] ".to_string()),
        Just("1. [~]".to_string()),
        Just("The system SHALL ".to_string()),
        Just("\r\n".to_string()),
        Just("\r".to_string()),
        Just("\n".to_string()),
        Just("\u{FEFF}".to_string()),
        Just("\u{2028}".to_string()),
        Just(" ##".to_string()),
        Just("<!--".to_string()),
        "\\PC{0,12}",
    ]
}

fn markdown() -> impl Strategy<Value = String> {
    prop::collection::vec(markdown_piece(), 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn readers_never_panic(text in markdown()) {
        let lines: Vec<&str> = text.split('\n').collect();
        prop_assert_eq!(fence_mask(&lines).len(), lines.len());
        let _ = parse_spec("cap", &text);
        let plan = parse_delta_spec(&text);
        // Every unpaired rename points at a real line of the document.
        let line_count = text.replace("\r\n", "\n").replace('\r', "\n").split('\n').count();
        for unpaired in &plan.unpaired_renames {
            prop_assert!(unpaired.line >= 1 && unpaired.line <= line_count);
        }
        let _ = extract_requirements_section(&text);
        let _ = find_main_spec_structure_issues(&text);
        let report = Validator::new(true).validate_spec_content("cap", &text);
        prop_assert_eq!(report.valid, report.summary.errors == 0 && report.summary.warnings == 0);
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,400}") {
        let _ = parse_spec("cap", &text);
        let _ = parse_delta_spec(&text);
        let _ = Validator::new(false).validate_spec_content("cap", &text);
        let _ = task_progress(&text);
    }

    #[test]
    fn ticking_changes_only_checkbox_interiors(text in markdown(), numbers in prop::collection::vec("[0-9]\\.[0-9]", 0..4)) {
        prop_assert_eq!(tick_tasks(&text, &[]), text.clone());
        let ticked = tick_tasks(&text, &numbers);
        let before = task_progress(&text);
        let after = task_progress(&ticked);
        prop_assert_eq!(before.total, after.total);
        prop_assert!(after.completed >= before.completed);
        let (a, b): (Vec<&str>, Vec<&str>) = (text.split('\n').collect(), ticked.split('\n').collect());
        prop_assert_eq!(a.len(), b.len());
        for (old, new) in a.iter().zip(b.iter()) {
            if old != new {
                // Only the bracket interior changed, to "x".
                let open = old.find('[').unwrap_or(0);
                prop_assert_eq!(&old[..open], &new[..open]);
                let close_old = old[open..].find(']').map(|i| open + i).unwrap_or(old.len());
                prop_assert_eq!(&old[close_old..], &new[open + 2..]);
                prop_assert_eq!(&new[open..open + 2], "[x");
            }
        }
        // Idempotent: ticking twice is ticking once.
        prop_assert_eq!(tick_tasks(&ticked, &numbers), ticked.clone());
        let _ = parse_task_lines(&ticked);
    }
}
