-- Documents: the metadata of each file the app keeps in S3 (docs/DOCUMENTS.md), the outbox of
-- object deletes, and the audit log. See docs/DATABASE.md for the indexes and the text index.
-- Times are TEXT in RFC 3339 with a +00:00 offset, as in 0001.
--
-- `seq` is the rowid (an INTEGER PRIMARY KEY, so VACUUM keeps it): the full-text index below
-- refers to rows by it. `id` is the document's UUID, unique, and what every query uses.
CREATE TABLE documents (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    modified_at     TEXT NOT NULL,
    modified_by     TEXT NOT NULL,
    bucket          TEXT NOT NULL,
    object_key      TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    media_type      TEXT,
    size            INTEGER CHECK (size >= 0),
    sha256          TEXT,
    document_number TEXT,
    location        TEXT,
    status          TEXT NOT NULL
                    CHECK (status IN ('pending', 'uploading', 'available', 'failed', 'deleted')),
    status_reason   TEXT,
    attributes      TEXT NOT NULL DEFAULT '{}'
                    CHECK (json_valid(attributes) AND json_type(attributes) = 'object'),
    version         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (bucket, object_key)
);
CREATE UNIQUE INDEX documents_by_id ON documents (id);
-- The default listing (newest first) and keyset paging on it.
CREATE INDEX documents_by_created ON documents (created_at, id);
-- "the available documents of a location, newest first".
CREATE INDEX documents_by_location ON documents (location, status, created_at, id);
-- "the documents in a status" (and its count), newest first.
CREATE INDEX documents_by_status ON documents (status, created_at, id);
-- startswith(documentNumber, …) as a range (BINARY collation, code point order).
CREATE INDEX documents_by_number ON documents (document_number, id);

-- $search: trigrams of fileName and documentNumber (FTS5's trigram tokenizer, case-folded),
-- an external-content index over `documents` kept in sync by the triggers below.
CREATE VIRTUAL TABLE documents_fts USING fts5(
    file_name,
    document_number,
    content = 'documents',
    content_rowid = 'seq',
    tokenize = 'trigram case_sensitive 0'
);
CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, file_name, document_number)
    VALUES (new.seq, new.file_name, new.document_number);
END;
CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, file_name, document_number)
    VALUES ('delete', old.seq, old.file_name, old.document_number);
END;
CREATE TRIGGER documents_fts_update AFTER UPDATE OF file_name, document_number ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, file_name, document_number)
    VALUES ('delete', old.seq, old.file_name, old.document_number);
    INSERT INTO documents_fts (rowid, file_name, document_number)
    VALUES (new.seq, new.file_name, new.document_number);
END;

-- Object deletes still to do: one entry per deleted document, written in the transaction that
-- marks the row `deleted`; a worker claims due entries for a lease (`claimed_until`).
CREATE TABLE document_outbox (
    id            TEXT PRIMARY KEY,
    document_id   TEXT NOT NULL UNIQUE,
    bucket        TEXT NOT NULL,
    object_key    TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       TEXT NOT NULL,
    claimed_until TEXT,
    last_error    TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX document_outbox_due ON document_outbox (next_at, id);

-- The audit log: who did what to which document, when. No foreign key: the log outlives rows.
CREATE TABLE document_events (
    id          TEXT PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    document_id TEXT,
    detail      TEXT
);
CREATE INDEX document_events_by_document ON document_events (document_id, at, id);
CREATE INDEX document_events_by_at ON document_events (at, id);
