-- The admin Orders list at a million orders (issue 10): newest first by (created_at, id) with
-- keyset paging, one index per way in (all orders, a status tab, "Needs action", a failure
-- code), exact look-ups for the numbers people search by, and a trigram index for the
-- customer (client id, company, contact name, e-mail; any part of it, any case).
--
-- "Needs action" is shared.domain.retry.waits_for_person: API Failed, and no automatic retry
-- is coming (a needs-action or auth failure, or retries exhausted). The same predicate is in
-- 0016_order_counts.sql and shared/db/pg/listing.py.

CREATE INDEX orders_list_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_status_list_idx ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_needs_action_idx ON orders (created_at DESC, id DESC)
    WHERE status = 'api_failed'
      AND (retries_exhausted OR coalesce(last_error_kind, '') NOT IN ('transient', 'unknown_outcome'));
CREATE INDEX orders_error_code_idx ON orders (last_error_code, created_at DESC, id DESC)
    WHERE last_error_code IS NOT NULL;
CREATE INDEX orders_invoice_number_idx ON orders (invoice_number);
CREATE INDEX orders_tracking_number_idx ON orders (tracking_number);
-- orders_list_idx serves every created_at range this one served
DROP INDEX IF EXISTS orders_created_idx;

-- pg_trgm (contrib, shipped with PostgreSQL) lives in one schema per database, like every
-- extension; it goes into public so that dropping one shop's schema never takes it (and the
-- other schemas' indexes) along. When the database user may not create it, a DBA runs
-- `CREATE EXTENSION pg_trgm` once and this is a no-op.
DO $$
DECLARE
    home text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE EXTENSION pg_trgm SCHEMA public;
    END IF;
    SELECT n.nspname INTO home
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    EXECUTE format(
        'CREATE INDEX orders_customer_trgm_idx ON orders USING gin ('
        '(lower(coalesce(client_id, '''') || '' '' || coalesce(customer_company, '''') || '' '' '
        '|| coalesce(contact_name, '''') || '' '' || coalesce(contact_email, ''''))) %I.gin_trgm_ops)',
        home);
END
$$;
