-- Error engine (issue #3): classified errors per step with occurrence counts, the
-- signature and fingerprint of each failed attempt (for retry decisions that survive a
-- crash), and per-tool circuit breakers shared by every step, run and process.

CREATE TABLE errors (
    run_id        TEXT    NOT NULL,
    step_id       TEXT    NOT NULL,
    -- normalised message hash (16 hex digits)
    signature     TEXT    NOT NULL,
    class         TEXT    NOT NULL,
    plugin        TEXT    NOT NULL,
    summary       TEXT    NOT NULL,
    occurrences   INTEGER NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    first_attempt INTEGER NOT NULL,
    last_attempt  INTEGER NOT NULL,
    first_seen    TEXT    NOT NULL,
    last_seen     TEXT    NOT NULL,
    -- the latest full report (JSON)
    report        TEXT    NOT NULL,
    PRIMARY KEY (run_id, step_id, signature),
    FOREIGN KEY (run_id, step_id) REFERENCES steps (run_id, step_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE attempt_errors (
    run_id      TEXT    NOT NULL,
    step_id     TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    class       TEXT    NOT NULL,
    signature   TEXT    NOT NULL,
    -- hash of the output or diff, for oscillation detection
    fingerprint TEXT    NOT NULL,
    PRIMARY KEY (run_id, step_id, attempt),
    FOREIGN KEY (run_id, step_id, attempt) REFERENCES attempts (run_id, step_id, attempt) ON DELETE CASCADE
) STRICT;

CREATE TABLE circuit_breakers (
    tool       TEXT NOT NULL PRIMARY KEY,
    -- the error engine's BreakerState (JSON)
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
