-- Counts for the Orders page's status tabs without counting a million rows per page view.
-- Every change of an order's status (or of whether it needs action) appends a -1 and a +1 row
-- here in the same transaction: appends never wait on each other, so placers updating orders
-- side by side do not queue on a counter row. Reading sums the rows; the admin folds them
-- into one row per (status, needs_action) now and then (shared/db/pg/overview.py).

CREATE TABLE order_status_counts (
    status        text NOT NULL,
    needs_action  boolean NOT NULL,
    n             bigint NOT NULL
);

CREATE FUNCTION order_needs_action(status text, retries_exhausted boolean, kind text)
    RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN status = 'api_failed'
       AND (retries_exhausted OR coalesce(kind, '') NOT IN ('transient', 'unknown_outcome'));

CREATE FUNCTION order_status_counts_track() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
DECLARE
    old_na boolean;
    new_na boolean;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_na := order_needs_action(OLD.status, OLD.retries_exhausted, OLD.last_error_kind);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        new_na := order_needs_action(NEW.status, NEW.retries_exhausted, NEW.last_error_kind);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status AND old_na = new_na THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO order_status_counts VALUES (OLD.status, old_na, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO order_status_counts VALUES (NEW.status, new_na, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_count_rows AFTER INSERT OR UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION order_status_counts_track();

INSERT INTO order_status_counts
SELECT status, order_needs_action(status, retries_exhausted, last_error_kind), count(*)
  FROM orders GROUP BY 1, 2;
