-- Failures (issue 4): what the retrier, the sweeps and the admin replay need.

ALTER TABLE orders
    -- SUNSKY's quote (goods + freight) from the last attempt: how much balance the order needs.
    ADD COLUMN quoted_total numeric(15, 4),
    -- Set when automatic retries gave up; the order stays API Failed for a person.
    ADD COLUMN retries_exhausted boolean NOT NULL DEFAULT false,
    -- When a sweep last re-published this order (so a sweep does not repeat itself).
    ADD COLUMN last_swept_at timestamptz;

CREATE INDEX orders_due_retry_idx ON orders (next_attempt_at) WHERE status = 'api_failed';

CREATE TABLE replays (
    id          bigserial PRIMARY KEY,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    target      text,
    since       timestamptz,
    until       timestamptz,
    dry_run     boolean NOT NULL,
    read        integer NOT NULL,
    replayed    integer NOT NULL,
    skipped     integer NOT NULL,
    refused     integer NOT NULL
);
