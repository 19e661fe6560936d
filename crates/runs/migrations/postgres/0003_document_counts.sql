-- How many documents there are per (status, location), kept by statement triggers in the
-- transaction that changes `documents`, so `$count` of the common filters (a status, a
-- location, both, neither) is a sum over a few rows instead of a count over the table
-- (docs/DATABASE.md); and the index of a status in key order (at the end).
--
-- `loc` is the location as a key that may not be NULL: '' for no location, '=' || location
-- otherwise (so the empty location and no location stay apart).
CREATE TABLE document_counts (
    status TEXT COLLATE "C" NOT NULL,
    loc    TEXT COLLATE "C" NOT NULL,
    -- No CHECK (n >= 0): PostgreSQL checks the row an upsert proposes before it finds the
    -- conflict, and a decrement proposes a negative one.
    n      BIGINT NOT NULL,
    PRIMARY KEY (status, loc)
);

INSERT INTO document_counts (status, loc, n)
SELECT status, COALESCE('=' || location, ''), COUNT(*) FROM documents GROUP BY 1, 2;

-- One statement's changes, summed per counter, applied in one upsert (a decrement too: its
-- counter exists, as the row it counts does): per statement, not per
-- row, because every change to one counter row within a transaction adds a row version that
-- later changes in the same transaction must walk (a million-row COPY would take quadratic
-- time). The counters are locked in key order, so two transactions moving documents in
-- opposite directions cannot deadlock on them.
CREATE FUNCTION documents_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO document_counts AS c (status, loc, n)
        SELECT status, COALESCE('=' || location, ''), COUNT(*)
        FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (status, loc) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO document_counts AS c (status, loc, n)
        SELECT status, COALESCE('=' || location, ''), -COUNT(*)
        FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (status, loc) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        INSERT INTO document_counts AS c (status, loc, n)
        SELECT status, loc, SUM(d) FROM (
            SELECT status, COALESCE('=' || location, '') AS loc, 1 AS d FROM new_rows
            UNION ALL
            SELECT status, COALESCE('=' || location, ''), -1 FROM old_rows
        ) AS changes
        GROUP BY 1, 2 HAVING SUM(d) <> 0 ORDER BY 1, 2
        ON CONFLICT (status, loc) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER documents_count_insert AFTER INSERT ON documents
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION documents_count();
CREATE TRIGGER documents_count_delete AFTER DELETE ON documents
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION documents_count();
-- Transition tables allow no column list: every UPDATE statement runs it, and changes that
-- leave status and location alone sum to nothing and touch no counter.
CREATE TRIGGER documents_count_update AFTER UPDATE ON documents
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION documents_count();

-- "the documents in a status" in the default order (by key): the first page is the first rows
-- of the range, whatever share of the table the status has. Without it SQLite sorted every
-- match of a status most rows have (documents_by_status is in time order).
CREATE INDEX documents_by_status_id ON documents (status, id);
