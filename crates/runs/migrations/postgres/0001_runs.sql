-- Run history: one row per job run the app received (issue 9, item 5).
CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    idempotency_key  TEXT UNIQUE,
    job              TEXT NOT NULL,
    schedule         TEXT,
    nominal_time     TIMESTAMPTZ,
    caller_client_id TEXT,
    received_at      TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    outcome          TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed')),
    http_status      INTEGER,
    duration_ms      BIGINT,
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 1,
    last_attempt     INTEGER,
    last_received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX runs_by_received ON runs (received_at, id);
CREATE INDEX runs_by_schedule ON runs (schedule, received_at);

-- What the local AWS side (scheduler, Lambda) did for each occurrence.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    schedule          TEXT NOT NULL,
    nominal_time      TIMESTAMPTZ NOT NULL,
    idempotency_key   TEXT NOT NULL,
    execution_id      TEXT,
    attempt           INTEGER NOT NULL,
    lambda_request_id TEXT,
    outcome           TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'dead_lettered')),
    http_status       INTEGER,
    error             TEXT,
    at                TIMESTAMPTZ NOT NULL
);
CREATE INDEX deliveries_by_key ON deliveries (idempotency_key, at);
CREATE INDEX deliveries_by_schedule ON deliveries (schedule, nominal_time);
