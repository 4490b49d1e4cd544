//! A damaged state database is refused before anything writes to it.
//!
//! SQLite does not verify pages it does not read: a database with damaged pages can be
//! read (showing some runs and not others) and written (new runs land in the damaged
//! file) without an error. So [`check_before_open`] runs `PRAGMA quick_check` (every
//! page's b-tree structure, record formats and free list; not the index contents, which
//! `integrity_check` also compares) on a read-only connection before the store's own
//! connection opens the file read-write, and refuses a damaged file with
//! [`StateError::Corrupt`] (exit code 3), leaving it byte-for-byte unchanged.
//!
//! `quick_check` reads the whole file (about 1 s per GiB from the page cache), so it
//! runs only when the file may have changed since a `pipeline` process last closed it
//! cleanly:
//!
//! - on a clean close (the store's last handle dropped, after SQLite checkpointed the
//!   write-ahead log into the file) the store writes the file's length, modification
//!   and change times and inode into the marker `<db>.clean` ([`CleanCloseMarker`]);
//! - on open the check runs when the marker is missing or does not match the file (a
//!   crash, another program wrote the file, bytes overwritten in place: the change time
//!   cannot be set back by a user), when a non-empty `-wal` file exists (a session did
//!   not close, or one is running now), or when the header looks wrong (page size, file
//!   length not a whole number of pages, or not the page count the header records).
//!
//! The cheap part, always done, is one `stat` of the file, the marker and the `-wal`
//! file, and a read of the 100-byte header.
//!
//! The read-only connection opens the file with `immutable=1` when no `-wal` file
//! exists, so it creates no `-wal` or `-shm` file and takes no lock; when one exists
//! (it must be read, it holds committed transactions) with `mode=ro`, which may update
//! the `-shm` index but never the database or the log.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::state::StateError;

/// How many lines of `quick_check` output an error quotes.
const FINDINGS_QUOTED: usize = 5;

/// Refuses a damaged database at `path` before it is opened for writing; does nothing for
/// a missing or empty file (a new database). Never writes to the file or its `-wal`.
///
/// Errors: [`StateError::Corrupt`] quoting the first findings of `quick_check` (or
/// SQLite's error when it cannot read the file at all).
pub(crate) fn check_before_open(path: &Path) -> Result<(), StateError> {
    let Ok(meta) = fs::metadata(path) else {
        return Ok(()); // not there yet: the store creates it
    };
    if !meta.is_file() || meta.len() == 0 {
        return Ok(()); // SQLite's own open reports what it is
    }
    if !needs_check(path, &meta) {
        return Ok(());
    }
    tracing::debug!(path = %path.display(), "state database not closed cleanly: running quick_check");
    quick_check(path)
}

/// Whether the file may have changed since it was last closed cleanly (see the module
/// doc).
fn needs_check(path: &Path, meta: &fs::Metadata) -> bool {
    let wal = sibling(path, "-wal");
    if fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return true;
    }
    if !header_consistent(path, meta.len()) {
        return true;
    }
    let marker = fs::read_to_string(sibling(path, ".clean")).unwrap_or_default();
    marker.trim() != fingerprint(meta)
}

/// The header's page size is a power of two from 512 to 65536, the file is a whole
/// number of pages, and, when the header's page count is valid (its change counter
/// equals its version-valid-for number), the file holds exactly that many pages. See
/// <https://www.sqlite.org/fileformat2.html#the_database_header>.
fn header_consistent(path: &Path, len: u64) -> bool {
    let mut header = [0u8; 100];
    let read = fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
    if read.is_err() || &header[..16] != b"SQLite format 3\0" {
        // Shorter than a header or not SQLite: the store's open reports it (not a
        // database); quick_check would only say the same.
        return true;
    }
    let raw = u16::from_be_bytes([header[16], header[17]]);
    let page_size: u64 = if raw == 1 { 65536 } else { u64::from(raw) };
    if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
        return false;
    }
    if !len.is_multiple_of(page_size) {
        return false;
    }
    let word = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let pages = u64::from(word(28));
    let valid = word(24) == word(92);
    !valid || pages == 0 || pages * page_size == len
}

/// Runs `PRAGMA quick_check` on a read-only connection.
fn quick_check(path: &Path) -> Result<(), StateError> {
    let corrupt = |message: String| StateError::Corrupt {
        path: path.to_path_buf(),
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(message),
        ),
    };
    let has_wal = sibling(path, "-wal").exists();
    let uri = format!(
        "file:{}?{}",
        uri_path(path),
        if has_wal { "mode=ro" } else { "immutable=1" }
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let sqlite = |err: rusqlite::Error| StateError::from_sqlite(path, "check the database", err);
    let conn = Connection::open_with_flags(&uri, flags).map_err(sqlite)?;
    let findings: Result<Vec<String>, rusqlite::Error> = (|| {
        let mut stmt = conn.prepare("PRAGMA quick_check")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        rows.take(FINDINGS_QUOTED + 1).collect()
    })();
    let findings = match findings {
        Ok(f) => f,
        // SQLite may stop at the first page it cannot parse at all.
        Err(err) => match StateError::from_sqlite(path, "check the database", err) {
            StateError::Database { source, .. } => {
                return Err(corrupt(format!("quick_check failed: {source}")));
            }
            other => return Err(other),
        },
    };
    if findings.len() == 1 && findings[0] == "ok" {
        return Ok(());
    }
    let mut text = findings
        .iter()
        .take(FINDINGS_QUOTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if findings.len() > FINDINGS_QUOTED {
        text.push_str("; ...");
    }
    Err(corrupt(format!("PRAGMA quick_check: {text}")))
}

/// The path as the path part of an SQLite URI: `%`, `?` and `#` percent-encoded (see
/// <https://www.sqlite.org/uri.html>), made absolute so no authority is parsed.
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::new();
    for c in absolute.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// `<db><suffix>`, e.g. `state.db-wal`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// What the marker records of the file: length, modification and change times (ns) and
/// inode.
fn fingerprint(meta: &fs::Metadata) -> String {
    format!(
        "{} {}.{:09} {}.{:09} {}",
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino()
    )
}

/// Writes `<db>.clean` when dropped: declared after the connection in the store, so it
/// drops after SQLite closed the file (and checkpointed its log into it).
pub(crate) struct CleanCloseMarker {
    path: PathBuf,
}

impl CleanCloseMarker {
    /// The marker of the database at `path`.
    pub(crate) fn new(path: &Path) -> CleanCloseMarker {
        CleanCloseMarker {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for CleanCloseMarker {
    fn drop(&mut self) {
        let Ok(meta) = fs::metadata(&self.path) else {
            return;
        };
        // Written beside and renamed, so a crash leaves the old marker or the new one; a
        // marker that cannot be written only means a quick_check on the next open.
        let marker = sibling(&self.path, ".clean");
        let temporary = sibling(&self.path, ".clean.tmp");
        let written = fs::write(&temporary, format!("{}\n", fingerprint(&meta)))
            .and_then(|()| fs::rename(&temporary, &marker));
        if let Err(err) = written {
            tracing::debug!(path = %marker.display(), %err, "cannot write the clean-close marker");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Durability, StateStore};

    fn check_needed(path: &Path) -> bool {
        needs_check(path, &fs::metadata(path).unwrap())
    }

    #[test]
    fn a_clean_close_is_trusted_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        drop(StateStore::open(&db, Durability::Normal).unwrap());
        assert!(sibling(&db, ".clean").exists());
        assert!(!check_needed(&db), "closed cleanly and unchanged");

        // The same bytes written again: the change time moves, the check runs.
        let bytes = fs::read(&db).unwrap();
        fs::write(&db, &bytes).unwrap();
        assert!(check_needed(&db));
        check_before_open(&db).expect("sound");
        drop(StateStore::open(&db, Durability::Normal).unwrap());
        assert!(!check_needed(&db));

        // A log left by a session that did not close.
        fs::write(sibling(&db, "-wal"), b"x").unwrap();
        assert!(check_needed(&db));
        fs::remove_file(sibling(&db, "-wal")).unwrap();

        // A file cut short is not a whole number of pages.
        assert!(header_consistent(&db, bytes.len() as u64));
        assert!(!header_consistent(&db, bytes.len() as u64 - 100));
    }

    #[test]
    fn uri_paths_escape_what_sqlite_would_parse() {
        assert_eq!(uri_path(Path::new("/a b/x?y#z%")), "/a b/x%3fy%23z%25");
    }
}
