-- Admin users of the HTTP API and console (issue 10). Passwords are argon2 hashes; API tokens
-- and console session ids are random and stored as SHA-256 hashes, so a copy of this table
-- lets nobody in.

CREATE TABLE admin_users (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    role           text NOT NULL CHECK (role IN ('operator', 'viewer')),
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admin_tokens (
    token_hash  text PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admin_sessions (
    session_hash  text PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expiry_idx ON admin_sessions (expires_at);

-- Answers of commands sent with an Idempotency-Key, per user; status_code NULL while the
-- first request is still running.
CREATE TABLE admin_idempotency (
    user_id      bigint NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    status_code  integer,
    body         jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX admin_idempotency_age_idx ON admin_idempotency (created_at);
