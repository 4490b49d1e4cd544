//! Delta specs (`openspec/changes/<id>/specs/<capability>/spec.md`).
//!
//! A delta spec has up to four `## ` sections, matched by title ignoring case:
//! `ADDED Requirements` and `MODIFIED Requirements` hold requirement blocks,
//! `REMOVED Requirements` holds names (as headers or as bullets carrying a header),
//! `RENAMED Requirements` holds `FROM:`/`TO:` line pairs. A header may appear more than
//! once; every copy is read. Besides the operations, the plan records what the reader
//! could not use, so validation can say so: unpaired rename lines, requirement headers
//! outside any delta section, and `###` headers inside ADDED/MODIFIED that are not
//! requirement headers. Mirrors `parseDeltaSpec` of the CLI.

use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim, js_trim_end};
use crate::line_ending;
use crate::requirement_block::{
    RequirementBlock, is_requirement_header, is_section_header, normalize_requirement_name,
    requirement_header_name,
};

js_re!(TOP_SECTION, r"^(##)\s+(.+)$");
js_re!(H3, r"^###\s+(.+?)\s*$");
js_re!(
    REMOVED_BULLET,
    r"^\s*[-*+]\s*`?###\s*Requirement:\s*(.+?)`?\s*$"
);
js_re!(
    RENAME_FROM,
    r"^\s*[-*+]?\s*FROM:\s*`?###\s*Requirement:\s*(.+?)`?\s*$"
);
js_re!(
    RENAME_TO,
    r"^\s*[-*+]?\s*TO:\s*`?###\s*Requirement:\s*(.+?)`?\s*$"
);

/// A rename from one requirement name to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenamePair {
    /// The current name.
    pub from: String,
    /// The new name.
    pub to: String,
}

/// Which side of a rename a line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameSide {
    /// A `FROM:` line.
    From,
    /// A `TO:` line.
    To,
}

impl RenameSide {
    /// `FROM` or `TO`.
    pub fn as_str(self) -> &'static str {
        match self {
            RenameSide::From => "FROM",
            RenameSide::To => "TO",
        }
    }
}

/// A `FROM:` or `TO:` line that never formed a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpairedRename {
    /// Which side the line was.
    pub side: RenameSide,
    /// The requirement name on the line.
    pub name: String,
    /// 1-based line number in the delta file.
    pub line: usize,
}

/// A canonical requirement header outside every delta section (ignored by archive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanedRequirement {
    /// Requirement name.
    pub name: String,
    /// Title of the `## ` section it sits under, `None` above the first one.
    pub section: Option<String>,
    /// 1-based line number.
    pub line: usize,
}

/// A `###` header in ADDED/MODIFIED that is not a `### Requirement:` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedHeader {
    /// Header text after `### `.
    pub header: String,
    /// The section title as the author first spelled it.
    pub section: String,
    /// 1-based line number.
    pub line: usize,
}

/// Which delta sections the file has (even empty ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SectionPresence {
    /// `## ADDED Requirements` present.
    pub added: bool,
    /// `## MODIFIED Requirements` present.
    pub modified: bool,
    /// `## REMOVED Requirements` present.
    pub removed: bool,
    /// `## RENAMED Requirements` present.
    pub renamed: bool,
}

impl SectionPresence {
    /// Whether any delta section is present.
    pub fn any(&self) -> bool {
        self.added || self.modified || self.removed || self.renamed
    }
}

/// Everything a delta spec asks for, in document order per section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaPlan {
    /// ADDED requirement blocks.
    pub added: Vec<RequirementBlock>,
    /// MODIFIED requirement blocks (each replaces the whole current block).
    pub modified: Vec<RequirementBlock>,
    /// REMOVED requirement names.
    pub removed: Vec<String>,
    /// REMOVED entries written as full header blocks.
    pub removed_blocks: Vec<RequirementBlock>,
    /// RENAMED pairs.
    pub renamed: Vec<RenamePair>,
    /// Rename lines that formed no pair, by line.
    pub unpaired_renames: Vec<UnpairedRename>,
    /// Requirement headers outside the delta sections.
    pub orphaned_requirements: Vec<OrphanedRequirement>,
    /// Non-requirement `###` headers inside ADDED/MODIFIED, by line.
    pub skipped_headers: Vec<SkippedHeader>,
    /// Which sections exist.
    pub section_presence: SectionPresence,
    /// Lines of RENAMED sections that mention `FROM:`/`TO:` but are not rename entries
    /// (the CLI ignores them silently; this crate reports them).
    pub ignored_rename_lines: Vec<(usize, String)>,
}

impl DeltaPlan {
    /// Number of operations (ADDED + MODIFIED + REMOVED + RENAMED entries).
    pub fn operation_count(&self) -> usize {
        self.added.len() + self.modified.len() + self.removed.len() + self.renamed.len()
    }
}

struct SectionBody<'a> {
    lines: &'a [&'a str],
    mask: &'a [bool],
    /// 1-based line number of the body's first line.
    start_line: usize,
}

const DELTA_TITLES: [&str; 4] = [
    "added requirements",
    "modified requirements",
    "removed requirements",
    "renamed requirements",
];

/// Parses a delta spec. Never fails: what cannot be read is recorded in the plan.
pub fn parse_delta_spec(content: &str) -> DeltaPlan {
    let normalized = line_ending::normalize(content);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&lines);
    let mut headers: Vec<(String, usize)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if mask[i] {
            continue;
        }
        if let Some(c) = TOP_SECTION.captures(line) {
            headers.push((js_trim(c.get(2).map_or("", |m| m.as_str())).to_string(), i));
        }
    }
    let sections: Vec<(String, SectionBody<'_>)> = headers
        .iter()
        .enumerate()
        .map(|(k, (title, index))| {
            let end = headers.get(k + 1).map_or(lines.len(), |h| h.1);
            (
                title.clone(),
                SectionBody {
                    lines: &lines[index + 1..end],
                    mask: &mask[index + 1..end],
                    start_line: index + 2,
                },
            )
        })
        .collect();
    let lookup = |desired: &str| -> (String, Vec<&SectionBody<'_>>) {
        let target = desired.to_lowercase();
        let matches: Vec<&(String, SectionBody<'_>)> = sections
            .iter()
            .filter(|(t, _)| t.to_lowercase() == target)
            .collect();
        let title = matches
            .first()
            .map_or(desired.to_string(), |(t, _)| t.clone());
        (title, matches.into_iter().map(|(_, b)| b).collect())
    };
    let (added_title, added_bodies) = lookup("ADDED Requirements");
    let (modified_title, modified_bodies) = lookup("MODIFIED Requirements");
    let (_, removed_bodies) = lookup("REMOVED Requirements");
    let (_, renamed_bodies) = lookup("RENAMED Requirements");

    let mut plan = DeltaPlan {
        section_presence: SectionPresence {
            added: !added_bodies.is_empty(),
            modified: !modified_bodies.is_empty(),
            removed: !removed_bodies.is_empty(),
            renamed: !renamed_bodies.is_empty(),
        },
        ..DeltaPlan::default()
    };
    for body in &added_bodies {
        plan.added.extend(requirement_blocks(
            body,
            Some((&added_title, &mut plan.skipped_headers)),
        ));
    }
    for body in &modified_bodies {
        plan.modified.extend(requirement_blocks(
            body,
            Some((&modified_title, &mut plan.skipped_headers)),
        ));
    }
    for body in &removed_bodies {
        plan.removed.extend(removed_names(body));
    }
    for body in &removed_bodies {
        plan.removed_blocks.extend(requirement_blocks(body, None));
    }
    for body in &renamed_bodies {
        plan.renamed
            .extend(renamed_pairs(body, &mut plan.unpaired_renames));
        for (i, line) in body.lines.iter().enumerate() {
            if !body.mask[i]
                && (line.contains("FROM:") || line.contains("TO:"))
                && !RENAME_FROM.is_match(line)
                && !RENAME_TO.is_match(line)
            {
                plan.ignored_rename_lines
                    .push((body.start_line + i, js_trim(line).to_string()));
            }
        }
    }
    plan.unpaired_renames.sort_by_key(|u| u.line);
    plan.skipped_headers.sort_by_key(|s| s.line);
    plan.orphaned_requirements = orphaned_requirements(&lines, &mask);
    plan
}

fn requirement_blocks(
    body: &SectionBody<'_>,
    mut skipped: Option<(&str, &mut Vec<SkippedHeader>)>,
) -> Vec<RequirementBlock> {
    let lines = body.lines;
    let is_req = |i: usize| !body.mask[i] && is_requirement_header(lines[i]);
    let is_top = |i: usize| !body.mask[i] && is_section_header(lines[i]);
    let record = |i: usize, skipped: &mut Option<(&str, &mut Vec<SkippedHeader>)>| {
        let Some((section, sink)) = skipped.as_mut() else {
            return;
        };
        if body.mask[i] {
            return;
        }
        if let Some(c) = H3.captures(lines[i])
            && !is_requirement_header(lines[i])
        {
            sink.push(SkippedHeader {
                header: js_trim(c.get(1).map_or("", |m| m.as_str())).to_string(),
                section: section.to_string(),
                line: body.start_line + i,
            });
        }
    };
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        while i < lines.len() && !is_req(i) {
            record(i, &mut skipped);
            i += 1;
        }
        if i >= lines.len() {
            break;
        }
        let header = lines[i];
        let Some(name) = requirement_header_name(header) else {
            i += 1;
            continue;
        };
        let mut buf = vec![header];
        i += 1;
        while i < lines.len() && !is_req(i) && !is_top(i) {
            record(i, &mut skipped);
            buf.push(lines[i]);
            i += 1;
        }
        blocks.push(RequirementBlock {
            header_line: header.to_string(),
            name,
            raw: js_trim_end(&buf.join("\n")).to_string(),
        });
    }
    blocks
}

fn removed_names(body: &SectionBody<'_>) -> Vec<String> {
    let mut names = Vec::new();
    for (i, line) in body.lines.iter().enumerate() {
        if body.mask[i] {
            continue;
        }
        if let Some(name) = requirement_header_name(line) {
            names.push(name);
        } else if let Some(c) = REMOVED_BULLET.captures(line) {
            names.push(normalize_requirement_name(
                c.get(1).map_or("", |m| m.as_str()),
            ));
        }
    }
    names
}

fn renamed_pairs(body: &SectionBody<'_>, unpaired: &mut Vec<UnpairedRename>) -> Vec<RenamePair> {
    let mut pairs = Vec::new();
    let mut pending: Option<(String, usize)> = None;
    for (i, line) in body.lines.iter().enumerate() {
        if body.mask[i] {
            continue;
        }
        if let Some(c) = RENAME_FROM.captures(line) {
            if let Some((name, line)) = pending.take() {
                unpaired.push(UnpairedRename {
                    side: RenameSide::From,
                    name,
                    line,
                });
            }
            pending = Some((
                normalize_requirement_name(c.get(1).map_or("", |m| m.as_str())),
                body.start_line + i,
            ));
        } else if let Some(c) = RENAME_TO.captures(line) {
            let to = normalize_requirement_name(c.get(1).map_or("", |m| m.as_str()));
            match pending.take() {
                Some((from, _)) => pairs.push(RenamePair { from, to }),
                None => unpaired.push(UnpairedRename {
                    side: RenameSide::To,
                    name: to,
                    line: body.start_line + i,
                }),
            }
        }
    }
    if let Some((name, line)) = pending {
        unpaired.push(UnpairedRename {
            side: RenameSide::From,
            name,
            line,
        });
    }
    pairs
}

fn orphaned_requirements(lines: &[&str], mask: &[bool]) -> Vec<OrphanedRequirement> {
    let mut orphans = Vec::new();
    let mut section: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        if mask[i] {
            continue;
        }
        if let Some(c) = TOP_SECTION.captures(line) {
            section = Some(js_trim(c.get(2).map_or("", |m| m.as_str())).to_string());
            continue;
        }
        if let Some(s) = &section
            && DELTA_TITLES.contains(&s.to_lowercase().as_str())
        {
            continue;
        }
        if let Some(name) = requirement_header_name(line) {
            orphans.push(OrphanedRequirement {
                name,
                section: section.clone(),
                line: i + 1,
            });
        }
    }
    orphans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_all_four_sections_and_repeated_headers() {
        let text = "## ADDED Requirements\n### Requirement: A\nx\n## added requirements\n### Requirement: B\ny\n## REMOVED Requirements\n- `### Requirement: C`\n### Requirement: D\n## RENAMED Requirements\n- FROM: `### Requirement: E`\n- TO: `### Requirement: F`\n* FROM: ### Requirement: G\n";
        let plan = parse_delta_spec(text);
        let added: Vec<_> = plan.added.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(added, ["A", "B"]);
        assert_eq!(plan.removed, ["C", "D"]);
        assert_eq!(
            plan.renamed,
            vec![RenamePair {
                from: "E".into(),
                to: "F".into()
            }]
        );
        assert_eq!(
            plan.unpaired_renames,
            vec![UnpairedRename {
                side: RenameSide::From,
                name: "G".into(),
                line: 13
            }]
        );
    }

    #[test]
    fn records_orphans_and_skipped_headers() {
        let text = "### Requirement: Top\n## Notes\n### Requirement: N\n## ADDED Requirements\n### Docs\n### Requirement: A\nx";
        let plan = parse_delta_spec(text);
        assert_eq!(plan.orphaned_requirements.len(), 2);
        assert_eq!(plan.orphaned_requirements[0].section, None);
        assert_eq!(
            plan.orphaned_requirements[1].section.as_deref(),
            Some("Notes")
        );
        assert_eq!(plan.skipped_headers[0].header, "Docs");
        assert_eq!(plan.skipped_headers[0].line, 5);
    }
}
