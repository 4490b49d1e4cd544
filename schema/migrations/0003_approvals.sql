-- Approval gates (issue #12): step status `awaiting_approval` and the decisions on it.
--
-- The `steps` table is rebuilt because SQLite cannot alter a CHECK constraint: the new
-- table is the old one with `awaiting_approval` added to its status list, filled with the
-- old rows (rowids kept: they are the plan order) and renamed into place, the procedure
-- of https://sqlite.org/lang_altertable.html#otheralter. migrations.rs runs it with
-- foreign keys off (a DROP TABLE would otherwise cascade into attempts and checkpoints)
-- and checks them before the transaction commits.

CREATE TABLE steps_v3 (
    run_id          TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    -- "ws" for a workstream without steps, "ws/step" otherwise
    step_id         TEXT    NOT NULL,
    workstream_id   TEXT    NOT NULL,
    status          TEXT    NOT NULL
        CHECK (status IN ('pending', 'running', 'validating', 'completed', 'failed',
                          'skipped', 'cancelled', 'interrupted', 'retrying', 'waiting',
                          'awaiting_approval')),
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

INSERT INTO steps_v3 (rowid, run_id, step_id, workstream_id, status, definition_hash,
                      depends_on, attempts, result_commit, worktree, started_at,
                      finished_at, error)
SELECT rowid, run_id, step_id, workstream_id, status, definition_hash, depends_on,
       attempts, result_commit, worktree, started_at, finished_at, error
FROM steps;

DROP TABLE steps;
ALTER TABLE steps_v3 RENAME TO steps;

-- Decisions on steps awaiting approval, written by whoever decides (`pipeline approve` /
-- `reject`, the REST API, the MCP server); the run's driver journals them
-- (`step_approved` / `step_rejected`) and sets `applied_at` in the same transaction.
-- A decision recorded while no process drives the run is applied when it resumes.
CREATE TABLE approval_decisions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT    NOT NULL,
    step_id    TEXT    NOT NULL,
    -- the attempt whose result was decided
    attempt    INTEGER NOT NULL CHECK (attempt >= 1),
    verdict    TEXT    NOT NULL CHECK (verdict IN ('approve', 'reject')),
    decided_by TEXT    NOT NULL,
    comment    TEXT,
    decided_at TEXT    NOT NULL,
    -- when the driver journalled it; NULL while pending
    applied_at TEXT,
    FOREIGN KEY (run_id, step_id) REFERENCES steps (run_id, step_id) ON DELETE CASCADE
) STRICT;

-- At most one pending decision per step and attempt: a second one is refused, not
-- queued. (A decision left pending for an earlier attempt, whose step resume ran again,
-- is never applied.)
CREATE UNIQUE INDEX approval_decisions_pending
    ON approval_decisions (run_id, step_id, attempt) WHERE applied_at IS NULL;
