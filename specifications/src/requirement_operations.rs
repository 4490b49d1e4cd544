//! Applying a delta's operations to the requirement blocks of a main spec, in the CLI's
//! order — RENAMED, REMOVED, MODIFIED, ADDED — with its refusals (`buildUpdatedSpec` in
//! `core/specs-apply.ts`): a source that is missing, a target that exists, a near-miss
//! name (differs only in case or spacing), a MODIFIED block that drops a scenario or
//! whose header does not match. An operation that is already applied (early sync) is a
//! no-op and is not counted.

use crate::delta::{DeltaPlan, RenamePair};
use crate::ecma_text::js_trim;
use crate::line_ending;
use crate::requirement_block::{
    RequirementBlock, fold_requirement_name, normalize_requirement_name, requirement_header_name,
};
use crate::scenario_diff::{describe_scenario_balance, diff_scenario_names, quote_names};
use crate::spec_merge::{MergeCounts, MergeError};

/// An insertion-ordered map, because the rebuild order depends on JavaScript `Map`
/// semantics (delete + set moves a key to the end; set on an existing key keeps it).
#[derive(Default)]
pub(crate) struct OrderedBlocks(Vec<(String, RequirementBlock)>);

impl OrderedBlocks {
    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }
    /// The block stored under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&RequirementBlock> {
        self.position(key).map(|i| &self.0[i].1)
    }
    fn has(&self, key: &str) -> bool {
        self.position(key).is_some()
    }
    fn set(&mut self, key: String, block: RequirementBlock) {
        match self.position(&key) {
            Some(i) => self.0[i].1 = block,
            None => self.0.push((key, block)),
        }
    }
    fn delete(&mut self, key: &str) {
        if let Some(i) = self.position(key) {
            self.0.remove(i);
        }
    }
    fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }
    /// The entries in insertion order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&String, &RequirementBlock)> {
        self.0.iter().map(|(k, b)| (k, b))
    }
}

/// A block's text as compared for "already applied" and "changed": line endings
/// normalised, surrounding whitespace trimmed.
pub(crate) fn normalize_block_raw(raw: &str) -> String {
    js_trim(&line_ending::normalize_newlines(raw)).to_string()
}

fn refuse(message: String) -> MergeError {
    MergeError::Refused(message)
}

/// The requirement blocks after every operation of a delta.
pub(crate) struct AppliedOperations {
    /// Blocks by normalised name, in the order the rebuild emits new ones.
    pub blocks: OrderedBlocks,
    /// The normalised name of each original block, in order, renames applied (a key
    /// absent from `blocks` is a removed block).
    pub ordered_keys: Vec<String>,
    /// What was applied.
    pub counts: MergeCounts,
}

/// Applies `plan` to the `original` blocks of spec `spec`. `is_new_spec`: the target
/// is a fresh skeleton, so a REMOVED name that is not found is not worth a warning.
/// Errors: [`MergeError::Refused`] with the CLI's message.
pub(crate) fn apply_operations(
    spec: &str,
    plan: &DeltaPlan,
    original: &[RequirementBlock],
    is_new_spec: bool,
    warnings: &mut Vec<String>,
) -> Result<AppliedOperations, MergeError> {
    let mut blocks = OrderedBlocks::default();
    for block in original {
        blocks.set(normalize_requirement_name(&block.name), block.clone());
    }
    let mut applied = AppliedOperations {
        blocks,
        ordered_keys: original
            .iter()
            .map(|b| normalize_requirement_name(&b.name))
            .collect(),
        counts: MergeCounts::default(),
    };
    for pair in &plan.renamed {
        applied.rename(spec, pair)?;
    }
    for name in &plan.removed {
        applied.remove(spec, name, is_new_spec, warnings)?;
    }
    for block in &plan.modified {
        applied.modify(spec, block)?;
    }
    for block in &plan.added {
        applied.add(spec, block)?;
    }
    Ok(applied)
}

impl AppliedOperations {
    /// The exact name of an existing block whose name folds like `name`, other than
    /// `except`.
    fn near_miss(&self, name: &str, except: Option<&str>) -> Option<String> {
        let folded = fold_requirement_name(name);
        self.blocks
            .keys()
            .find(|k| Some(k.as_str()) != except && fold_requirement_name(k) == folded)
            .map(|near| {
                self.blocks
                    .get(near)
                    .map(|b| b.name.clone())
                    .unwrap_or_default()
            })
    }

    /// RENAMED: the block keeps its place and body under its new header. Already
    /// renamed (only the new name exists) is a no-op unless a near-miss of the old name
    /// exists.
    fn rename(&mut self, spec: &str, pair: &RenamePair) -> Result<(), MergeError> {
        let from = normalize_requirement_name(&pair.from);
        let to = normalize_requirement_name(&pair.to);
        if !self.blocks.has(&from) {
            if self.blocks.has(&to) {
                if let Some(existing) = self.near_miss(&from, Some(&to)) {
                    return Err(refuse(format!(
                        "{spec} RENAMED failed for header \"### Requirement: {}\" - source not found, but \"### Requirement: {existing}\" exists; fix the header to match it exactly",
                        pair.from
                    )));
                }
                return Ok(());
            }
            return Err(refuse(format!(
                "{spec} RENAMED failed for header \"### Requirement: {}\" - source not found",
                pair.from
            )));
        }
        if self.blocks.has(&to) {
            return Err(refuse(format!(
                "{spec} RENAMED failed for header \"### Requirement: {}\" - target already exists",
                pair.to
            )));
        }
        if let Some(existing) = self.near_miss(&to, Some(&from)) {
            return Err(refuse(format!(
                "{spec} RENAMED failed for header \"### Requirement: {}\" - \"### Requirement: {existing}\" already exists and differs only in case or spacing; choose a distinct name",
                pair.to
            )));
        }
        let Some(block) = self.blocks.get(&from).cloned() else {
            return Ok(());
        };
        let header = format!("### Requirement: {to}");
        let mut raw_lines: Vec<&str> = block.raw.split('\n').collect();
        raw_lines[0] = &header;
        let renamed = RequirementBlock {
            header_line: header.clone(),
            name: to.clone(),
            raw: raw_lines.join("\n"),
        };
        self.blocks.delete(&from);
        self.blocks.set(to.clone(), renamed);
        if let Some(slot) = self.ordered_keys.iter_mut().find(|k| **k == from) {
            *slot = to;
        }
        self.counts.renamed += 1;
        Ok(())
    }

    /// REMOVED: the block goes. A missing one counts as already removed (with a
    /// warning on an existing spec) unless a near-miss of its name exists.
    fn remove(
        &mut self,
        spec: &str,
        name: &str,
        is_new_spec: bool,
        warnings: &mut Vec<String>,
    ) -> Result<(), MergeError> {
        let key = normalize_requirement_name(name);
        if self.blocks.has(&key) {
            self.blocks.delete(&key);
            self.counts.removed += 1;
            return Ok(());
        }
        if is_new_spec {
            return Ok(());
        }
        if let Some(existing) = self.near_miss(&key, None) {
            return Err(refuse(format!(
                "{spec} REMOVED failed for header \"### Requirement: {name}\" - not found, but \"### Requirement: {existing}\" exists; fix the header to match it exactly"
            )));
        }
        warnings.push(format!(
            "{spec} - REMOVED requirement \"{name}\" is not in the current spec; treating it as already removed."
        ));
        Ok(())
    }

    /// MODIFIED: the block is replaced whole; it must exist, its header must name it,
    /// and it may not drop a scenario. Counted only when the text changes.
    fn modify(&mut self, spec: &str, block: &RequirementBlock) -> Result<(), MergeError> {
        let key = normalize_requirement_name(&block.name);
        let Some(current) = self.blocks.get(&key) else {
            return Err(refuse(format!(
                "{spec} MODIFIED failed for header \"### Requirement: {}\" - not found",
                block.name
            )));
        };
        let first_line = block.raw.split('\n').next().unwrap_or_default();
        if requirement_header_name(first_line).as_deref() != Some(key.as_str()) {
            return Err(refuse(format!(
                "{spec} MODIFIED failed for header \"### Requirement: {}\" - header mismatch in content",
                block.name
            )));
        }
        let diff = diff_scenario_names(&current.raw, &block.raw);
        if !diff.missing.is_empty() {
            return Err(refuse(format!(
                "{spec} MODIFIED failed for header \"### Requirement: {}\" - current spec contains scenario(s) not present in the modified block: {}. {} Refresh the change spec before archiving to avoid dropping scenarios.",
                block.name,
                quote_names(&diff.missing),
                describe_scenario_balance(&diff)
            )));
        }
        if normalize_block_raw(&current.raw) != normalize_block_raw(&block.raw) {
            self.counts.modified += 1;
        }
        self.blocks.set(key, block.clone());
        Ok(())
    }

    /// ADDED: the block is appended; an identical existing block is a no-op, a
    /// different one or a near-miss name is refused.
    fn add(&mut self, spec: &str, block: &RequirementBlock) -> Result<(), MergeError> {
        let key = normalize_requirement_name(&block.name);
        if let Some(existing) = self.blocks.get(&key) {
            if normalize_block_raw(&existing.raw) == normalize_block_raw(&block.raw) {
                return Ok(());
            }
            return Err(refuse(format!(
                "{spec} ADDED failed for header \"### Requirement: {}\" - already exists",
                block.name
            )));
        }
        if let Some(existing) = self.near_miss(&key, None) {
            return Err(refuse(format!(
                "{spec} ADDED failed for header \"### Requirement: {}\" - \"### Requirement: {existing}\" already exists and differs only in case or spacing; use MODIFIED with that exact header to change it, or choose a distinct name",
                block.name
            )));
        }
        self.blocks.set(key, block.clone());
        self.counts.added += 1;
        Ok(())
    }
}
