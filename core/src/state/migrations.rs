//! Versioned schema migrations of the state database.
//!
//! The schema version is SQLite's `PRAGMA user_version`; migration N (file
//! `schema/migrations/000N_*.sql`) takes the database from version N-1 to N inside one
//! transaction, so a crash mid-migration leaves the previous version intact. Migration
//! transactions also stamp `PRAGMA application_id` with [`APPLICATION_ID`], which tells a
//! pipeline database from another application's SQLite file.
//!
//! `check_compatible` only reads the header, so a database this binary must refuse
//! (newer schema, another application's file) is never written to, not even switched to
//! WAL mode.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::StateError;

/// One migration: the SQL that takes the schema to `version`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Schema version after this migration (1-based, consecutive).
    pub version: i64,
    /// File name without `.sql`, e.g. `0001_initial`.
    pub name: &'static str,
    /// The SQL, run with `execute_batch`.
    pub sql: &'static str,
}

/// All migrations in order; index i holds version i + 1.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial",
        sql: include_str!("../../../schema/migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "0002_errors_and_breakers",
        sql: include_str!("../../../schema/migrations/0002_errors_and_breakers.sql"),
    },
    Migration {
        version: 3,
        name: "0003_approvals",
        sql: include_str!("../../../schema/migrations/0003_approvals.sql"),
    },
    Migration {
        version: 4,
        name: "0004_webhook_outbox",
        sql: include_str!("../../../schema/migrations/0004_webhook_outbox.sql"),
    },
    Migration {
        version: 5,
        name: "0005_step_cache",
        sql: include_str!("../../../schema/migrations/0005_step_cache.sql"),
    },
];

/// The newest schema version this binary knows (the last migration's version).
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// `PRAGMA application_id` of a pipeline state database: the ASCII bytes "PIPE".
pub const APPLICATION_ID: i32 = i32::from_be_bytes(*b"PIPE");

/// Reads the database header and refuses a file this binary must not write to; returns
/// the current schema version (0 for a new, empty database).
///
/// Errors: [`StateError::NotADatabase`] for a non-SQLite file, [`StateError::ForeignDatabase`]
/// for another application's database, [`StateError::NewerSchema`] for a schema newer than
/// [`SCHEMA_VERSION`], [`StateError::Busy`] when the file stays locked.
pub(crate) fn check_compatible(conn: &Connection, path: &Path) -> Result<i64, StateError> {
    let sqlite = |err| StateError::from_sqlite(path, "read the schema version", err);
    // One read transaction, so the three reads see one snapshot even while another
    // process migrates the same file. Dropping it rolls back, which writes nothing.
    let snapshot = conn.unchecked_transaction().map_err(sqlite)?;
    let read = |pragma: &str| -> Result<i64, StateError> {
        snapshot
            .pragma_query_value(None, pragma, |row| row.get::<_, i64>(0))
            .map_err(sqlite)
    };
    let version = read("user_version")?;
    let application_id = read("application_id")?;
    let foreign = || StateError::ForeignDatabase {
        path: path.to_path_buf(),
    };
    if application_id != 0 && application_id != i64::from(APPLICATION_ID) {
        return Err(foreign());
    }
    if version > SCHEMA_VERSION {
        return Err(StateError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 0 || (version > 0 && application_id == 0) {
        return Err(foreign());
    }
    if version == 0 {
        // Version 0 with existing tables: somebody else's schema, not an empty database.
        // The OpenSpec index (`pipeline spec index`, crate pipeline-specs) keeps its own
        // `spec_*` tables in the same file and may create it first: those do not count.
        let objects: i64 = snapshot
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'spec\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                [],
                |row| row.get(0),
            )
            .map_err(sqlite)?;
        if objects > 0 {
            return Err(foreign());
        }
    }
    Ok(version)
}

/// Applies every migration newer than `current`, each in its own IMMEDIATE transaction
/// that re-reads `user_version` first (another process may have migrated meanwhile).
///
/// Foreign keys are off while migrating (`PRAGMA foreign_keys` cannot change inside a
/// transaction), so that a migration may rebuild a table others refer to without
/// cascading deletes; each migration checks them (`PRAGMA foreign_key_check`) before it
/// commits, and they are on again afterwards.
///
/// Errors: [`StateError::Busy`] when another process holds the write lock past the busy
/// timeout, [`StateError::Migration`] when a migration's SQL fails (rolled back).
pub(crate) fn apply(conn: &mut Connection, path: &Path, current: i64) -> Result<(), StateError> {
    if current >= SCHEMA_VERSION {
        return Ok(());
    }
    let pragma = |conn: &Connection, on: bool| {
        conn.pragma_update(None, "foreign_keys", on)
            .map_err(|err| StateError::from_sqlite(path, "switch foreign keys", err))
    };
    pragma(conn, false)?;
    let migrated = apply_each(conn, path, current);
    pragma(conn, true)?;
    migrated
}

fn apply_each(conn: &mut Connection, path: &Path, current: i64) -> Result<(), StateError> {
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let fail = |err: rusqlite::Error| match StateError::from_sqlite(path, "migrate", err) {
            StateError::Database { source, .. } => StateError::Migration {
                path: path.to_path_buf(),
                version: migration.version,
                name: migration.name,
                source,
            },
            other => other,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let now: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(fail)?;
        if now >= migration.version {
            continue; // dropping `tx` rolls back the empty transaction
        }
        tx.execute_batch(migration.sql).map_err(fail)?;
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()
            .map_err(fail)?;
        if let Some(table) = broken {
            return Err(fail(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("a row of table {table} refers to a missing row")),
            )));
        }
        tx.pragma_update(None, "user_version", migration.version)
            .map_err(fail)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_holding_only_the_spec_index_is_migrated_not_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE spec_meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO spec_meta VALUES ('version', '1');").unwrap();
        }
        let store = crate::state::StateStore::open(&path, crate::state::Durability::Normal)
            .expect("spec-only database accepted");
        assert!(store.runs().unwrap().is_empty());
        let c = Connection::open(&path).unwrap();
        let kept: String = c
            .query_row(
                "SELECT value FROM spec_meta WHERE key = 'version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, "1", "the spec index is kept");
        // Somebody else's tables are still refused.
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE accounts (id INTEGER);")
            .unwrap();
        assert!(matches!(
            crate::state::StateStore::open(&other, crate::state::Durability::Normal),
            Err(StateError::ForeignDatabase { .. })
        ));
    }

    #[test]
    fn versions_are_consecutive_from_one_and_match_file_names() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            let expected = i64::try_from(index).map(|i| i + 1).ok();
            assert_eq!(Some(migration.version), expected, "{}", migration.name);
            assert!(
                migration
                    .name
                    .starts_with(&format!("{:04}_", migration.version)),
                "migration {} must be named {:04}_*",
                migration.name,
                migration.version
            );
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    #[test]
    fn application_id_spells_pipe() {
        assert_eq!(APPLICATION_ID.to_be_bytes(), *b"PIPE");
        assert_eq!(APPLICATION_ID, 1_346_981_957);
    }
}
