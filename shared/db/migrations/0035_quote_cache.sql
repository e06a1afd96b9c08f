-- Freight quote cache (issue 12): getPricesAndFreights answers shared by every placer process,
-- keyed by country, state, items and quantities (shared.domain.quoting.quote_key), kept until
-- expires_at (QUOTE_CACHE_SECONDS); housekeeping deletes expired rows.
CREATE TABLE quote_cache (
    key        text PRIMARY KEY,
    quote      jsonb NOT NULL,
    quoted_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX quote_cache_expires_idx ON quote_cache (expires_at);
