-- Documents: the metadata of each file the app keeps in S3 (docs/DOCUMENTS.md), the outbox of
-- object deletes, and the audit log. See docs/DATABASE.md for the indexes and the text index.
--
-- Text columns are COLLATE "C" (code point order, as SQLite's BINARY), so both backends order
-- and compare alike; the queries say COLLATE "C" too. file_name and document_number keep the
-- database's collation, so ILIKE ($search) folds case by the database's locale; their btree
-- index is COLLATE "C".

-- pg_trgm: trusted since PostgreSQL 13, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE documents (
    id              TEXT COLLATE "C" PRIMARY KEY,
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      TEXT COLLATE "C" NOT NULL,
    modified_at     TIMESTAMPTZ NOT NULL,
    modified_by     TEXT COLLATE "C" NOT NULL,
    bucket          TEXT COLLATE "C" NOT NULL,
    object_key      TEXT COLLATE "C" NOT NULL,
    file_name       TEXT NOT NULL,
    media_type      TEXT COLLATE "C",
    size            BIGINT CHECK (size >= 0),
    sha256          TEXT COLLATE "C",
    document_number TEXT,
    location        TEXT COLLATE "C",
    status          TEXT COLLATE "C" NOT NULL
                    CHECK (status IN ('pending', 'uploading', 'available', 'failed', 'deleted')),
    status_reason   TEXT COLLATE "C",
    attributes      JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    version         BIGINT NOT NULL DEFAULT 1,
    UNIQUE (bucket, object_key)
);
-- The default listing (newest first) and keyset paging on it.
CREATE INDEX documents_by_created ON documents (created_at, id);
-- "the available documents of a location, newest first". NULLS FIRST: the order OData asks
-- for ascending (and, read backwards, descending).
CREATE INDEX documents_by_location ON documents (location NULLS FIRST, status, created_at, id);
-- "the documents in a status" (and its count), newest first.
CREATE INDEX documents_by_status ON documents (status, created_at, id);
-- startswith(documentNumber, …) as a range in code point order.
CREATE INDEX documents_by_number ON documents (document_number COLLATE "C" NULLS FIRST, id);
-- $search: ILIKE '%term%' on fileName or documentNumber.
CREATE INDEX documents_text ON documents
    USING gin (file_name gin_trgm_ops, document_number gin_trgm_ops);

-- Object deletes still to do: one entry per deleted document, written in the transaction that
-- marks the row `deleted`; a worker claims due entries for a lease (`claimed_until`).
CREATE TABLE document_outbox (
    id            TEXT COLLATE "C" PRIMARY KEY,
    document_id   TEXT COLLATE "C" NOT NULL UNIQUE,
    bucket        TEXT COLLATE "C" NOT NULL,
    object_key    TEXT COLLATE "C" NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX document_outbox_due ON document_outbox (next_at, id);

-- The audit log: who did what to which document, when. No foreign key: the log outlives rows.
CREATE TABLE document_events (
    id          TEXT COLLATE "C" PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT COLLATE "C" NOT NULL,
    action      TEXT COLLATE "C" NOT NULL,
    document_id TEXT COLLATE "C",
    detail      TEXT COLLATE "C"
);
CREATE INDEX document_events_by_document ON document_events (document_id NULLS FIRST, at, id);
CREATE INDEX document_events_by_at ON document_events (at, id);
