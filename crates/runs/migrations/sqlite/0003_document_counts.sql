-- How many documents there are per (status, location), kept by triggers in the transaction that
-- changes `documents`, so `$count` of the common filters (a status, a location, both, neither)
-- is a sum over a few rows instead of a count over the table (docs/DATABASE.md); and the index
-- of a status in key order (at the end).
--
-- `loc` is the location as a key that may not be NULL: '' for no location, '=' || location
-- otherwise (so the empty location and no location stay apart).
CREATE TABLE document_counts (
    status TEXT NOT NULL,
    loc    TEXT NOT NULL,
    n      INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (status, loc)
) WITHOUT ROWID;

INSERT INTO document_counts (status, loc, n)
SELECT status, COALESCE('=' || location, ''), COUNT(*) FROM documents GROUP BY 1, 2;

CREATE TRIGGER documents_count_insert AFTER INSERT ON documents BEGIN
    INSERT INTO document_counts (status, loc, n)
    VALUES (new.status, COALESCE('=' || new.location, ''), 1)
    ON CONFLICT (status, loc) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER documents_count_delete AFTER DELETE ON documents BEGIN
    UPDATE document_counts SET n = n - 1
    WHERE status = old.status AND loc = COALESCE('=' || old.location, '');
END;
CREATE TRIGGER documents_count_update AFTER UPDATE OF status, location ON documents
WHEN old.status IS NOT new.status OR old.location IS NOT new.location BEGIN
    UPDATE document_counts SET n = n - 1
    WHERE status = old.status AND loc = COALESCE('=' || old.location, '');
    INSERT INTO document_counts (status, loc, n)
    VALUES (new.status, COALESCE('=' || new.location, ''), 1)
    ON CONFLICT (status, loc) DO UPDATE SET n = n + 1;
END;

-- "the documents in a status" in the default order (by key): the first page is the first rows
-- of the range, whatever share of the table the status has. Without it SQLite sorted every
-- match of a status most rows have (documents_by_status is in time order).
CREATE INDEX documents_by_status_id ON documents (status, id);
