-- pipeline state database, schema version 1: runs, steps, attempts, events, checkpoints.
--
-- Applied by core/src/state/migrations.rs inside one transaction, which then sets
-- PRAGMA user_version = 1 and PRAGMA application_id. Later migrations (errors, circuit
-- breakers, spec index) go into 0002_*.sql, ...; never edit a migration once released.
--
-- Conventions: timestamps are RFC 3339 UTC text with milliseconds
-- ("2026-01-31T12:00:00.123Z"), so text order is time order. Status columns hold the
-- lowercase snake_case names of the Rust enums StepStatus, RunStatus and AttemptResult.
-- JSON columns hold compact JSON text.

CREATE TABLE runs (
    run_id          TEXT    NOT NULL PRIMARY KEY,
    -- canonical path of the workstream file or directory the run was started from
    workstream_path TEXT    NOT NULL,
    repo_path       TEXT    NOT NULL,
    -- hex commit id the root steps start from
    base_commit     TEXT    NOT NULL,
    result_branch   TEXT    NOT NULL,
    status          TEXT    NOT NULL
        CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    jobs            INTEGER NOT NULL CHECK (jobs >= 0),
    plan_hash       TEXT    NOT NULL,
    started_at      TEXT    NOT NULL,
    finished_at     TEXT
) STRICT;

-- `pipeline runs` (newest first) and resume's "latest unfinished run of this workstream".
CREATE INDEX runs_by_start ON runs (started_at, run_id);
CREATE INDEX runs_by_workstream ON runs (workstream_path, started_at);

-- One row per step of a run. The rowid keeps insertion order (plan order, then steps
-- added on resume).
CREATE TABLE steps (
    run_id          TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    -- "ws" for a workstream without steps, "ws/step" otherwise
    step_id         TEXT    NOT NULL,
    workstream_id   TEXT    NOT NULL,
    status          TEXT    NOT NULL
        CHECK (status IN ('pending', 'running', 'validating', 'completed', 'failed',
                          'skipped', 'cancelled', 'interrupted', 'retrying', 'waiting')),
    definition_hash TEXT    NOT NULL,
    -- JSON array of step ids
    depends_on      TEXT    NOT NULL DEFAULT '[]',
    -- number of attempts ever begun; never reset, so attempt numbers continue on resume
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- hex id of the step's result commit, set when the step completed
    result_commit   TEXT,
    worktree        TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    error           TEXT,
    PRIMARY KEY (run_id, step_id)
) STRICT;

-- One row per attempt of a step; kept when a step is reset on resume.
CREATE TABLE attempts (
    run_id      TEXT    NOT NULL,
    step_id     TEXT    NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    outcome     TEXT
        CHECK (outcome IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted')),
    exit_code   INTEGER,
    error       TEXT,
    log_path    TEXT    NOT NULL,
    duration_ms INTEGER CHECK (duration_ms >= 0),
    PRIMARY KEY (run_id, step_id, attempt),
    FOREIGN KEY (run_id, step_id) REFERENCES steps (run_id, step_id) ON DELETE CASCADE
) STRICT;

-- Append-only journal of every state change. AUTOINCREMENT so an id is never reused,
-- even after runs are deleted: readers page with "id > last seen id".
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    step_id TEXT,
    at      TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    -- JSON value
    data    TEXT    NOT NULL DEFAULT 'null'
) STRICT;

CREATE INDEX events_by_run ON events (run_id, id);

-- Events are history: they may be deleted with their run (`pipeline clean`), never edited.
CREATE TRIGGER events_append_only
BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE of table events is not allowed');
END;

-- A completed step's checkpoint: its result commit, the definition hash it was computed
-- from, and its outputs. Resume keeps a step whose checkpoint still matches.
CREATE TABLE checkpoints (
    run_id          TEXT NOT NULL,
    step_id         TEXT NOT NULL,
    result_commit   TEXT NOT NULL,
    definition_hash TEXT NOT NULL,
    -- JSON value
    outputs         TEXT NOT NULL DEFAULT 'null',
    created_at      TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id),
    FOREIGN KEY (run_id, step_id) REFERENCES steps (run_id, step_id) ON DELETE CASCADE
) STRICT;
