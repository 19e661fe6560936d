-- How many documents there are per (status, location), kept by a trigger in the transaction
-- that changes `documents`, so `$count` of the common filters (a status, a location, both,
-- neither) is a sum over a few rows instead of a count over the table (docs/DATABASE.md).
--
-- `loc` is the location as a key that may not be NULL: '' for no location, '=' || location
-- otherwise (so the empty location and no location stay apart).
CREATE TABLE document_counts (
    status TEXT COLLATE "C" NOT NULL,
    loc    TEXT COLLATE "C" NOT NULL,
    n      BIGINT NOT NULL CHECK (n >= 0),
    PRIMARY KEY (status, loc)
);

INSERT INTO document_counts (status, loc, n)
SELECT status, COALESCE('=' || location, ''), COUNT(*) FROM documents GROUP BY 1, 2;

-- A status change touches two counters: they are locked in key order, so two transactions
-- moving documents in opposite directions cannot deadlock on them.
CREATE FUNCTION documents_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key TEXT[];
    new_key TEXT[];
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_key := ARRAY[OLD.status, COALESCE('=' || OLD.location, '')];
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := ARRAY[NEW.status, COALESCE('=' || NEW.location, '')];
    END IF;
    IF old_key IS NOT DISTINCT FROM new_key THEN
        RETURN NULL;
    END IF;
    IF new_key IS NOT NULL AND (old_key IS NULL OR new_key < old_key) THEN
        INSERT INTO document_counts (status, loc, n) VALUES (new_key[1], new_key[2], 1)
        ON CONFLICT (status, loc) DO UPDATE SET n = document_counts.n + 1;
        new_key := NULL;
    END IF;
    IF old_key IS NOT NULL THEN
        UPDATE document_counts SET n = n - 1 WHERE status = old_key[1] AND loc = old_key[2];
    END IF;
    IF new_key IS NOT NULL THEN
        INSERT INTO document_counts (status, loc, n) VALUES (new_key[1], new_key[2], 1)
        ON CONFLICT (status, loc) DO UPDATE SET n = document_counts.n + 1;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER documents_count AFTER INSERT OR DELETE OR UPDATE OF status, location
ON documents FOR EACH ROW EXECUTE FUNCTION documents_count();
