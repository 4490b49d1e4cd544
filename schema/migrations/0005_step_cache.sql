-- The cross-run step cache (issue #15, docs/CACHE.md). One row per completed step of a
-- run: its content key, the key's parts (JSON, so `pipeline why` can tell which part
-- differs from an earlier entry), its result and start commits, and, when the step was
-- satisfied from the cache, the run and step its result was taken from. `reason` says
-- why a step that ran was not taken from the cache when an entry with its key existed
-- (a conflict, a result commit gone, `--no-cache`, `cache: false`).
--
-- Written by the run's driver after the step's completion is journalled; a crash in
-- between loses only the entry (the next run misses and runs the step). Not part of a
-- run's journal: `pipeline cache clear` deletes rows without touching any run.
CREATE TABLE step_cache (
    run_id          TEXT NOT NULL,
    step_id         TEXT NOT NULL,
    key             TEXT NOT NULL,
    parts           TEXT NOT NULL,
    result_commit   TEXT NOT NULL,
    start_commit    TEXT NOT NULL,
    cached_from_run TEXT,
    cached_from_step TEXT,
    reason          TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
);

-- The lookup of a step about to run: entries with its key, newest first.
CREATE INDEX step_cache_by_key ON step_cache (key, created_at);
