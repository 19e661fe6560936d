-- Run history: one row per job run the app received (issue 9, item 5).
-- Times are TEXT in RFC 3339 with a +00:00 offset, written by sqlx's chrono encoding; they
-- compare in time order as strings because every value carries the same offset.
CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    idempotency_key  TEXT UNIQUE,
    job              TEXT NOT NULL,
    schedule         TEXT,
    nominal_time     TEXT,
    caller_client_id TEXT,
    received_at      TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    outcome          TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed')),
    http_status      INTEGER,
    duration_ms      INTEGER,
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 1,
    last_attempt     INTEGER,
    last_received_at TEXT NOT NULL
);
CREATE INDEX runs_by_received ON runs (received_at, id);
CREATE INDEX runs_by_schedule ON runs (schedule, received_at);

-- What the local AWS side (scheduler, Lambda) did for each occurrence.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    schedule          TEXT NOT NULL,
    nominal_time      TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL,
    execution_id      TEXT,
    attempt           INTEGER NOT NULL,
    lambda_request_id TEXT,
    outcome           TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'dead_lettered')),
    http_status       INTEGER,
    error             TEXT,
    at                TEXT NOT NULL
);
CREATE INDEX deliveries_by_key ON deliveries (idempotency_key, at);
CREATE INDEX deliveries_by_schedule ON deliveries (schedule, nominal_time);
