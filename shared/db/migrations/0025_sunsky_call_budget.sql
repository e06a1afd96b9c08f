-- One SUNSKY call budget per account, shared by every process (shared/sunsky/budget.py):
-- a token bucket in two pockets, refilled on PostgreSQL's clock, and how long the whole
-- account backs off after SUNSKY throttled. Keyed by the API key id; the secret is never here.

CREATE TABLE sunsky_call_budget (
    account       text PRIMARY KEY,
    main          double precision NOT NULL,
    pocket        double precision NOT NULL,
    updated_at    timestamptz NOT NULL,
    paused_until  timestamptz NOT NULL DEFAULT '-infinity',
    granted       integer NOT NULL DEFAULT 0  -- what the last take granted (RETURNING reads it)
);
