//! Reading the journal (table `events`) for the event streams, and noticing new entries.
//!
//! One watcher thread polls `PRAGMA data_version` every [`POLL_INTERVAL`] on its own
//! read-only connection: the value changes whenever another connection (any process's run,
//! this server's own runs) commits. Then it reads the newest event id and publishes it on
//! a `watch` channel. Each stream client wakes on a change and reads the entries after the
//! last one it sent, in pages of [`PAGE`], from the database: a slow client only reads
//! later, it never misses an entry, and ids never repeat.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pipeline_core::state::{Event, JournalEntry};
use rusqlite::{Connection, OpenFlags, params};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often the watcher checks the database for new entries: 150 ms.
pub const POLL_INTERVAL: Duration = Duration::from_millis(150);

/// Entries one read returns at most: 500.
pub const PAGE: usize = 500;

/// A read-only connection for pages of the journal, shared by every stream.
pub struct JournalReader {
    conn: Mutex<Connection>,
}

/// Opens `db` read-only (it must exist: the server creates it at start).
fn open_read_only(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(pipeline_core::state::BUSY_TIMEOUT)?;
    Ok(conn)
}

/// One page of the journal: the entries and the last id read (entries of an old format
/// that no longer parse are skipped, but still read past).
pub struct Page {
    /// Entries in id order.
    pub entries: Vec<JournalEntry>,
    /// The highest id read, or `after` when none.
    pub last_id: i64,
}

impl JournalReader {
    /// Opens the journal of the database at `db`.
    pub fn open(db: &Path) -> rusqlite::Result<JournalReader> {
        Ok(JournalReader {
            conn: Mutex::new(open_read_only(db)?),
        })
    }

    /// Up to [`PAGE`] entries with an id greater than `after`, of `run` or of every run.
    pub fn page(&self, run: Option<&str>, after: i64) -> rusqlite::Result<Page> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let limit = PAGE as i64;
        let mut rows: Vec<(i64, String, String, String)> = Vec::new();
        let map = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?));
        match run {
            Some(run) => {
                let mut st = conn.prepare_cached(
                    "SELECT id, run_id, at, data FROM events WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                )?;
                for row in st.query_map(params![run, after, limit], map)? {
                    rows.push(row?);
                }
            }
            None => {
                let mut st = conn.prepare_cached(
                    "SELECT id, run_id, at, data FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
                for row in st.query_map(params![after, limit], map)? {
                    rows.push(row?);
                }
            }
        }
        let last_id = rows.last().map_or(after, |r| r.0);
        let entries = rows
            .into_iter()
            .filter_map(|(id, run_id, at, data)| {
                let event = serde_json::from_str::<Event>(&data).ok()?;
                Some(JournalEntry {
                    id,
                    at,
                    run_id,
                    event,
                })
            })
            .collect();
        Ok(Page { entries, last_id })
    }

    /// The newest journal id (0 for an empty journal).
    pub fn latest_id(&self) -> rusqlite::Result<i64> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        latest_id(&conn)
    }
}

fn latest_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
}

/// Starts the watcher thread on `db`; it publishes the newest id on `tx` until `stop`.
pub fn spawn_watcher(
    db: PathBuf,
    tx: watch::Sender<i64>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("journal-watcher".into())
        .spawn(move || {
            let mut conn: Option<Connection> = None;
            let mut seen_version: Option<i64> = None;
            while !stop.is_cancelled() {
                if conn.is_none() {
                    match open_read_only(&db) {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            tracing::warn!("journal watcher: cannot open {}: {e}", db.display())
                        }
                    }
                }
                if let Some(c) = &conn {
                    let checked = c
                        .query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
                        .and_then(|version| {
                            if seen_version != Some(version) {
                                let id = latest_id(c)?;
                                tx.send_if_modified(|latest| {
                                    let newer = id > *latest;
                                    if newer {
                                        *latest = id;
                                    }
                                    newer
                                });
                                seen_version = Some(version);
                            }
                            Ok(())
                        });
                    if let Err(e) = checked {
                        tracing::warn!("journal watcher: {e}");
                        conn = None;
                        seen_version = None;
                    }
                }
                std::thread::sleep(POLL_INTERVAL);
            }
        })
        .map(|_| ())
}
