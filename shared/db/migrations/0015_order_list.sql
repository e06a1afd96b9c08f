-- The admin Orders list at a million orders (issue 10): newest first by (created_at, id) with
-- keyset paging, one index per way in (all orders, a status tab, "Needs action", a failure
-- code), exact look-ups for the numbers people search by, and trigram matching for the
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

-- The customer filter and search: "any part of the client id, company, contact name or
-- e-mail, any case". A trigram index on the orders themselves would read posting lists as long
-- as the table for every common fragment (".com", "ltd"), so the fragments are matched in
-- order_customers (one row per distinct customer text, far fewer than orders), and the orders
-- of the matching customers found by a plain b-tree on the same text.
CREATE FUNCTION order_customer_text(client_id text, company text, contact text, email text)
    RETURNS text LANGUAGE sql IMMUTABLE
    RETURN lower(coalesce(client_id, '') || ' ' || coalesce(company, '') || ' '
                 || coalesce(contact, '') || ' ' || coalesce(email, ''));

CREATE INDEX orders_customer_text_idx
    ON orders (order_customer_text(client_id, customer_company, contact_name, contact_email));

CREATE TABLE order_customers (customer_text text PRIMARY KEY);
INSERT INTO order_customers
SELECT DISTINCT order_customer_text(client_id, customer_company, contact_name, contact_email)
  FROM orders;

-- A customer text no order uses any more stays (it only ever matches nothing).
CREATE FUNCTION order_customers_track() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO order_customers VALUES (order_customer_text(
        NEW.client_id, NEW.customer_company, NEW.contact_name, NEW.contact_email))
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER orders_customer_rows
    AFTER INSERT OR UPDATE OF client_id, customer_company, contact_name, contact_email ON orders
    FOR EACH ROW EXECUTE FUNCTION order_customers_track();

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
    EXECUTE format('CREATE INDEX order_customers_trgm_idx ON order_customers'
                   ' USING gin (customer_text %I.gin_trgm_ops)', home);
END
$$;
