-- Webhook ids the Perfex ingest accepted (issue 11). A row is written in the same transaction
-- that waits for the broker's acknowledgement, and committed only after it: a concurrent
-- request with the same id waits on the primary key until that transaction ends, then sees
-- the row (duplicate: 202 again, nothing published) or no row (the publish failed: it tries).
-- No body is stored (it holds names and addresses), only its digest, to tell a re-sent event
-- from a different event under a reused id. Rows older than INGEST_DEDUP_RETENTION_SECONDS
-- count as gone and are purged by the ingest.

CREATE TABLE ingest_webhooks (
    webhook_id text PRIMARY KEY CHECK (length(webhook_id) BETWEEN 1 AND 255),
    event_type text NOT NULL,
    invoice_id text NOT NULL,
    body_sha256 bytea NOT NULL,
    accepted_at timestamptz NOT NULL
);

CREATE INDEX ingest_webhooks_accepted_at ON ingest_webhooks (accepted_at);
