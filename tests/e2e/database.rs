//! A damaged state database is refused, never written: every command that opens it exits
//! 3 naming the file and how to recover, and the file stays byte-for-byte as it was.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::support::Test;

/// `<db><suffix>`.
fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A read-only, lock-free connection that creates no `-wal` or `-shm` file.
fn immutable(db: &Path) -> Connection {
    Connection::open_with_flags(
        format!("file:{}?immutable=1", db.display()),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap()
}

/// `PRAGMA integrity_check`'s findings ("ok" alone when sound), or SQLite's error.
fn integrity(db: &Path) -> String {
    let c = immutable(db);
    let mut stmt = match c.prepare("PRAGMA integrity_check") {
        Ok(s) => s,
        Err(e) => return e.to_string(),
    };
    let rows: Result<Vec<String>, _> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect());
    match rows {
        Ok(r) => r.join("\n"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_corrupt_database_is_refused_and_left_unchanged() {
    let t = Test::new();
    // Enough steps that the journal spans several pages.
    let steps: Vec<String> = (0..60)
        .map(|i| format!(r#"{{"id": "s{i}", "command": "true", "isolation": "none"}}"#))
        .collect();
    let f = t.workstream(
        "many.json",
        &format!(r#"{{"id": "w", "steps": [{}]}}"#, steps.join(",")),
    );
    t.run(&f, "r1", 2).assert_ok();
    let db = t.repo.join(".pipeline/state.db");
    assert_eq!(integrity(&db), "ok");
    assert!(
        !beside(&db, "-wal").exists(),
        "the run closed the database cleanly"
    );

    // 64 bytes over the cells in the middle of a b-tree leaf page of the `events` table
    // (page 3 or later): its root page, or the root's first child when the root is an
    // interior page (https://www.sqlite.org/fileformat2.html#b_tree_pages).
    let (root, page_size): (usize, usize) = {
        let c = immutable(&db);
        let root: i64 = c
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = 'events'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size: i64 = c
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .unwrap();
        (
            usize::try_from(root).unwrap(),
            usize::try_from(size).unwrap(),
        )
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let be16 = |b: &[u8], at: usize| usize::from(u16::from_be_bytes([b[at], b[at + 1]]));
    let mut page_no = root;
    while bytes[(page_no - 1) * page_size] == 0x05 {
        // Interior table page: the first cell starts with its left child's page number.
        let page = (page_no - 1) * page_size;
        let cell = page + be16(&bytes, page + 12);
        page_no = usize::try_from(u32::from_be_bytes(
            bytes[cell..cell + 4].try_into().unwrap(),
        ))
        .unwrap();
    }
    let page = (page_no - 1) * page_size;
    assert_eq!(bytes[page], 0x0D, "a table leaf page");
    assert!(page_no >= 3, "events leaf page {page_no}");
    let content = be16(&bytes, page + 5);
    let at = page + content.max(page_size / 2).min(page_size - 64);
    for (i, b) in bytes[at..at + 64].iter_mut().enumerate() {
        *b = 0xA5 ^ u8::try_from(i).unwrap();
    }
    std::fs::write(&db, &bytes).unwrap();
    let findings = integrity(&db);
    assert_ne!(findings, "ok", "the overwrite must damage the database");

    let db_text = db.display().to_string();
    for args in [
        vec!["runs"],
        vec!["status", "r1"],
        vec!["run", f.to_str().unwrap(), "--run-id", "r2"],
        vec!["logs", "r1", "w/s0"],
    ] {
        let r = t.pipeline(&args).assert_code(3);
        let err = r.stderr();
        assert!(
            err.contains(&format!("state database {db_text} is corrupt")),
            "{args:?}: {err}"
        );
        assert!(err.contains(".recover"), "{args:?}: {err}");
        assert!(err.contains("move"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read(&db).unwrap(),
            bytes,
            "{args:?} changed the damaged file"
        );
        for suffix in ["-wal", "-shm", "-journal"] {
            assert!(
                !beside(&db, suffix).exists(),
                "{args:?} created {suffix} beside the damaged file"
            );
        }
    }

    // Moved aside, a fresh database is created and the damaged one is never touched.
    let aside = beside(&db, ".damaged");
    std::fs::rename(&db, &aside).unwrap();
    std::fs::remove_file(beside(&db, ".clean")).unwrap();
    t.run(&f, "r3", 2).assert_ok();
    assert_eq!(std::fs::read(&aside).unwrap(), bytes);
}

#[test]
fn a_database_left_by_a_crash_is_checked_and_used_when_sound() {
    let t = Test::new();
    let f = t.workstream("ok.json", r#"{"id": "a", "command": "true"}"#);
    t.run(&f, "r1", 1).assert_ok();
    let db = t.repo.join(".pipeline/state.db");
    let marker = beside(&db, ".clean");
    assert!(marker.exists(), "a clean close leaves its marker");
    // As if the last process had been killed: no marker of a clean close.
    std::fs::remove_file(&marker).unwrap();
    let output = t
        .cmd()
        .env("RUST_LOG", "pipeline_core=debug")
        .args(["runs"])
        .output()
        .unwrap();
    let r = crate::support::Run { output }.assert_ok();
    assert!(r.stdout().contains("r1"), "{}", r.stdout());
    assert!(r.stderr().contains("running quick_check"), "{}", r.stderr());
    // Closed cleanly: the next open trusts the marker.
    let output = t
        .cmd()
        .env("RUST_LOG", "pipeline_core=debug")
        .args(["runs"])
        .output()
        .unwrap();
    let r = crate::support::Run { output }.assert_ok();
    assert!(
        !r.stderr().contains("running quick_check"),
        "{}",
        r.stderr()
    );
    assert!(marker.exists(), "checked, used and closed cleanly again");
}
