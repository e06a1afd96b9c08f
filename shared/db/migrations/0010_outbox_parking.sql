-- Outbox rows that fail to publish (issue 9): one that can never be published (a missing topic
-- with auto-create off, a record too large, an authorisation error) used to stop the id-ordered
-- relay for every service. Each failure is counted and the row retried later (retry_at); after
-- OUTBOX_MAX_ATTEMPTS it is parked (parked_at) until a person re-sends it (dropship outbox
-- retry). A row retrying or parked holds back the unsent rows of its key behind it, and only
-- those.
ALTER TABLE outbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN retry_at timestamptz,
    ADD COLUMN parked_at timestamptz;

-- "is an earlier unsent row of this key blocking me?", asked for every row the relay picks
CREATE INDEX outbox_unsent_key_idx ON outbox (key, id) WHERE published_at IS NULL;
