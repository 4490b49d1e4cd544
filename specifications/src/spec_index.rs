//! The spec index: capabilities, requirements, scenarios and change touches in the
//! SQLite state database (`<repo>/.pipeline/state.db`, shared with the core crate).
//!
//! This crate owns only tables prefixed `spec_`, created with `CREATE TABLE IF NOT
//! EXISTS` and versioned by its own `spec_meta` row `schema_version` (it never touches
//! `PRAGMA user_version` or other tables). The connection uses WAL and a 5000 ms busy
//! timeout, as the state store does. Refreshing is incremental: every indexed file is
//! keyed by path with the SHA-256 of its content; an unchanged file is skipped, a
//! changed one has its rows replaced, a vanished one has its rows deleted — all in
//! one transaction.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::{
    ChangeConflict, ChangeTouch, catalog_requirement, conflicts_among, spec_requirements,
};
use crate::delta::parse_delta_spec;
use crate::layout::{Layout, discover_spec_files, posix_relative, read_lossy};

/// Version of the `spec_` tables this code writes.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spec_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spec_files (
    path TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, capability TEXT NOT NULL,
    content_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spec_requirements (
    source_path TEXT NOT NULL, capability TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL,
    text TEXT NOT NULL, raw TEXT NOT NULL, PRIMARY KEY (source_path, position));
CREATE TABLE IF NOT EXISTS spec_scenarios (
    source_path TEXT NOT NULL, requirement_position INTEGER NOT NULL, position INTEGER NOT NULL,
    name TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (source_path, requirement_position, position));
CREATE TABLE IF NOT EXISTS spec_change_touches (
    source_path TEXT NOT NULL, change_id TEXT NOT NULL, capability TEXT NOT NULL, requirement TEXT NOT NULL,
    operation TEXT NOT NULL, new_name TEXT, position INTEGER NOT NULL, PRIMARY KEY (source_path, position));
CREATE INDEX IF NOT EXISTS spec_requirements_by_name ON spec_requirements (capability, name);
CREATE INDEX IF NOT EXISTS spec_touches_by_requirement ON spec_change_touches (capability, requirement);
";

/// Why the index cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// SQLite failed.
    #[error("spec index in {db}: {source}")]
    Sqlite {
        /// Database file.
        db: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer version.
    #[error(
        "spec index in {db} has schema version {found}, newer than this binary's {SCHEMA_VERSION}; upgrade pipeline"
    )]
    TooNew {
        /// Database file.
        db: PathBuf,
        /// Version found.
        found: i64,
    },
    /// The OpenSpec tree could not be read.
    #[error("cannot read the OpenSpec tree: {0}")]
    Io(#[from] std::io::Error),
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RefreshStats {
    /// Files (re)indexed because new or changed.
    pub indexed: usize,
    /// Files skipped because their hash was unchanged.
    pub unchanged: usize,
    /// Files removed from the index.
    pub removed: usize,
    /// Main-spec requirements in the index after the refresh.
    pub requirements: usize,
    /// Scenarios of main-spec requirements.
    pub scenarios: usize,
    /// Change touches (delta operations of active changes).
    pub touches: usize,
}

/// A search hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindHit {
    /// `spec` (main spec) or `change:<id>` (a delta of an active change).
    pub source: String,
    /// Capability id.
    pub capability: String,
    /// Requirement name.
    pub requirement: String,
    /// `spec://<capability>#<requirement>`.
    pub reference: String,
    /// Where the text matched: `name`, `text` or `scenario`.
    pub matched: String,
}

/// An open spec index.
pub struct SpecIndex {
    conn: Connection,
    db: PathBuf,
}

fn hash(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SpecIndex {
    /// Opens (creating if needed) the index in the database at `db`.
    ///
    /// Errors: SQLite failures, or `spec_` tables from a newer version.
    pub fn open(db: &Path) -> Result<Self, IndexError> {
        let err = |source| IndexError::Sqlite {
            db: db.to_path_buf(),
            source,
        };
        if let Some(parent) = db.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let conn = Connection::open(db).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_millis(5000))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let found: Option<String> = conn
            .query_row(
                "SELECT value FROM spec_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match found.and_then(|v| v.parse::<i64>().ok()) {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(IndexError::TooNew {
                    db: db.to_path_buf(),
                    found: v,
                });
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT OR REPLACE INTO spec_meta (key, value) VALUES ('schema_version', ?1)",
                    params![SCHEMA_VERSION.to_string()],
                )
                .map_err(err)?;
            }
        }
        Ok(SpecIndex {
            conn,
            db: db.to_path_buf(),
        })
    }

    fn sql<T>(&self, result: rusqlite::Result<T>) -> Result<T, IndexError> {
        result.map_err(|source| IndexError::Sqlite {
            db: self.db.clone(),
            source,
        })
    }

    /// Brings the index up to date with `layout`'s main specs and active changes.
    ///
    /// Errors: unreadable tree or SQLite failure (the transaction is rolled back).
    pub fn refresh(&mut self, layout: &Layout) -> Result<RefreshStats, IndexError> {
        let files = indexable_files(layout)?;
        let db = self.db.clone();
        let err = |source| IndexError::Sqlite {
            db: db.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let mut stats = RefreshStats::default();
        let known: Vec<(String, String)> = {
            let mut stmt = tx
                .prepare("SELECT path, content_hash FROM spec_files")
                .map_err(err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(err)?;
            rows.collect::<Result<_, _>>().map_err(err)?
        };
        let present: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for (path, _) in &known {
            if !present.contains(path.as_str()) {
                delete_file_rows(&tx, path).map_err(err)?;
                stats.removed += 1;
            }
        }
        for file in &files {
            let digest = hash(&file.content);
            if known.iter().any(|(p, h)| *p == file.path && *h == digest) {
                stats.unchanged += 1;
                continue;
            }
            delete_file_rows(&tx, &file.path).map_err(err)?;
            tx.execute(
                "INSERT INTO spec_files (path, kind, owner, capability, content_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![file.path, file.kind, file.owner, file.capability, digest],
            )
            .map_err(err)?;
            if file.kind == "spec" {
                insert_spec_rows(&tx, file).map_err(err)?;
            } else {
                insert_delta_rows(&tx, file).map_err(err)?;
            }
            stats.indexed += 1;
        }
        tx.commit().map_err(err)?;
        stats.requirements =
            self.count("SELECT COUNT(*) FROM spec_requirements WHERE position >= 0")?;
        stats.scenarios = self.count("SELECT COUNT(*) FROM spec_scenarios")?;
        stats.touches = self.count("SELECT COUNT(*) FROM spec_change_touches")?;
        Ok(stats)
    }

    fn count(&self, sql: &str) -> Result<usize, IndexError> {
        let n: i64 = self.sql(self.conn.query_row(sql, [], |r| r.get(0)))?;
        Ok(n as usize)
    }

    /// Requirements whose name, statement or scenarios contain `text` (ASCII
    /// case-insensitive), main specs first, then deltas of active changes.
    ///
    /// Errors: SQLite failure.
    pub fn find(&self, text: &str) -> Result<Vec<FindHit>, IndexError> {
        let pattern = format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let mut stmt = self.sql(self.conn.prepare(
            "SELECT f.kind, f.owner, r.capability, r.name,
                    CASE WHEN r.name LIKE ?1 ESCAPE '\\' THEN 'name'
                         WHEN r.text LIKE ?1 ESCAPE '\\' THEN 'text' ELSE 'scenario' END
             FROM spec_requirements r JOIN spec_files f ON f.path = r.source_path
             WHERE r.name LIKE ?1 ESCAPE '\\' OR r.text LIKE ?1 ESCAPE '\\' OR r.raw LIKE ?1 ESCAPE '\\'
                OR EXISTS (SELECT 1 FROM spec_scenarios s WHERE s.source_path = r.source_path
                           AND s.requirement_position = r.position
                           AND (s.name LIKE ?1 ESCAPE '\\' OR s.body LIKE ?1 ESCAPE '\\'))
             ORDER BY f.kind DESC, r.capability, r.position",
        ))?;
        let rows = self.sql(stmt.query_map(params![pattern], |r| {
            let kind: String = r.get(0)?;
            let owner: String = r.get(1)?;
            let capability: String = r.get(2)?;
            let requirement: String = r.get(3)?;
            Ok(FindHit {
                source: if kind == "spec" {
                    "spec".into()
                } else {
                    format!("change:{owner}")
                },
                reference: format!("spec://{capability}#{requirement}"),
                capability,
                requirement,
                matched: r.get(4)?,
            })
        }))?;
        self.sql(rows.collect())
    }

    /// Conflicting active changes, from the indexed touches.
    ///
    /// Errors: SQLite failure.
    pub fn conflicts(&self) -> Result<Vec<ChangeConflict>, IndexError> {
        let mut stmt = self.sql(
            self.conn.prepare("SELECT change_id, capability, requirement, operation, new_name FROM spec_change_touches"),
        )?;
        let rows = self.sql(stmt.query_map([], |r| {
            let op: String = r.get(3)?;
            Ok(ChangeTouch {
                change: r.get(0)?,
                capability: r.get(1)?,
                requirement: r.get(2)?,
                operation: match op.as_str() {
                    "ADDED" => "ADDED",
                    "MODIFIED" => "MODIFIED",
                    "REMOVED" => "REMOVED",
                    _ => "RENAMED",
                },
                new_name: r.get(4)?,
                block: None,
            })
        }))?;
        let touches: Vec<ChangeTouch> = self.sql(rows.collect())?;
        Ok(conflicts_among(&touches))
    }
}

/// One file the index covers.
struct IndexedFile {
    /// Path below the project root, `/`-separated (the key of its rows).
    path: String,
    /// `spec` (a main spec) or `delta` (a change's delta spec).
    kind: &'static str,
    /// The capability id for a spec, the change id for a delta.
    owner: String,
    /// The capability id.
    capability: String,
    /// The file's text.
    content: String,
}

/// Every main spec, then every delta spec of every active change.
fn indexable_files(layout: &Layout) -> Result<Vec<IndexedFile>, IndexError> {
    let mut files = Vec::new();
    for spec in discover_spec_files(&layout.specs_dir())? {
        let content = read_lossy(&spec.file)?;
        files.push(IndexedFile {
            path: posix_relative(&layout.root, &spec.file),
            kind: "spec",
            owner: spec.id.clone(),
            capability: spec.id,
            content,
        });
    }
    for change in layout.change_ids()? {
        for delta in discover_spec_files(&layout.change_dir(&change).join("specs"))? {
            let content = read_lossy(&delta.file)?;
            files.push(IndexedFile {
                path: posix_relative(&layout.root, &delta.file),
                kind: "delta",
                owner: change.clone(),
                capability: delta.id,
                content,
            });
        }
    }
    Ok(files)
}

/// Deletes every row derived from the file at `path`.
fn delete_file_rows(tx: &rusqlite::Transaction<'_>, path: &str) -> rusqlite::Result<()> {
    for table in [
        "spec_files",
        "spec_requirements",
        "spec_scenarios",
        "spec_change_touches",
    ] {
        let column = if table == "spec_files" {
            "path"
        } else {
            "source_path"
        };
        tx.execute(
            &format!("DELETE FROM {table} WHERE {column} = ?1"),
            params![path],
        )?;
    }
    Ok(())
}

/// A main spec's requirements (by position) and their scenarios.
fn insert_spec_rows(tx: &rusqlite::Transaction<'_>, file: &IndexedFile) -> rusqlite::Result<()> {
    let path = &file.path;
    for (i, req) in spec_requirements(&file.capability, &file.content)
        .iter()
        .enumerate()
    {
        tx.execute(
            "INSERT OR REPLACE INTO spec_requirements (source_path, capability, name, position, text, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![path, file.capability, req.name, i as i64, req.text, req.raw],
        )?;
        for (j, scenario) in req.scenarios.iter().enumerate() {
            tx.execute(
                "INSERT OR REPLACE INTO spec_scenarios (source_path, requirement_position, position, name, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![path, i as i64, j as i64, scenario.name, scenario.body],
            )?;
        }
    }
    Ok(())
}

/// A delta spec's operations as change touches, in ADDED, MODIFIED, REMOVED, RENAMED
/// order; ADDED and MODIFIED blocks are also indexed as requirements (at negative
/// positions, so they are searchable but not counted as main-spec requirements).
fn insert_delta_rows(tx: &rusqlite::Transaction<'_>, file: &IndexedFile) -> rusqlite::Result<()> {
    let (path, capability) = (&file.path, &file.capability);
    let plan = parse_delta_spec(&file.content);
    // (requirement, operation, new name, block text)
    let mut rows: Vec<(String, &str, Option<String>, Option<String>)> = Vec::new();
    rows.extend(
        plan.added
            .iter()
            .map(|b| (b.name.clone(), "ADDED", None, Some(b.raw.clone()))),
    );
    rows.extend(
        plan.modified
            .iter()
            .map(|b| (b.name.clone(), "MODIFIED", None, Some(b.raw.clone()))),
    );
    rows.extend(
        plan.removed
            .iter()
            .map(|n| (n.clone(), "REMOVED", None, None)),
    );
    rows.extend(
        plan.renamed
            .iter()
            .map(|p| (p.from.clone(), "RENAMED", Some(p.to.clone()), None)),
    );
    for (i, (name, op, new_name, raw)) in rows.iter().enumerate() {
        tx.execute(
            "INSERT OR REPLACE INTO spec_change_touches (source_path, change_id, capability, requirement, operation, new_name, position) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![path, file.owner, capability, name, op, new_name, i as i64],
        )?;
        if let Some(raw) = raw {
            let block = crate::requirement_block::RequirementBlock {
                header_line: String::new(),
                name: name.clone(),
                raw: raw.clone(),
            };
            let req = catalog_requirement(capability, &block);
            tx.execute(
                "INSERT OR REPLACE INTO spec_requirements (source_path, capability, name, position, text, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![path, capability, name, -(i as i64) - 1, req.text, req.raw],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn refresh_is_incremental_and_finds_conflicts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        write(
            root,
            "openspec/specs/auth/spec.md",
            "## Purpose\nP\n## Requirements\n### Requirement: Login\nThe system SHALL log in.\n\n#### Scenario: ok\n- password accepted\n",
        );
        write(
            root,
            "openspec/changes/a/specs/auth/spec.md",
            "## REMOVED Requirements\n### Requirement: Login\n",
        );
        write(
            root,
            "openspec/changes/b/specs/auth/spec.md",
            "## MODIFIED Requirements\n### Requirement: Login\nThe system SHALL log in fast.\n\n#### Scenario: ok\n- x\n",
        );
        let layout = Layout::new(root);
        let mut index = SpecIndex::open(&root.join(".pipeline/state.db")).expect("open");
        let first = index.refresh(&layout).expect("refresh");
        assert_eq!(
            (
                first.indexed,
                first.unchanged,
                first.requirements,
                first.scenarios
            ),
            (3, 0, 1, 1)
        );
        let second = index.refresh(&layout).expect("refresh");
        assert_eq!((second.indexed, second.unchanged), (0, 3));
        let hits = index.find("PASSWORD").expect("find");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].reference, "spec://auth#Login");
        assert_eq!(hits[0].matched, "scenario");
        assert_eq!(
            index.conflicts().expect("conflicts")[0].changes,
            ["a (REMOVED)", "b (MODIFIED)"]
        );
        std::fs::remove_dir_all(root.join("openspec/changes/a")).expect("rm");
        let third = index.refresh(&layout).expect("refresh");
        assert_eq!(third.removed, 1);
        assert!(index.conflicts().expect("conflicts").is_empty());
    }
}
