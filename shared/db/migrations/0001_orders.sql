-- Orders and everything the order pipeline keeps (issue 3).
-- Statuses are the nine of the mission; the allowed transitions live in shared/domain/order.py
-- (TRANSITIONS), the CHECK below only keeps foreign values out.

CREATE TABLE orders (
    id                    bigserial PRIMARY KEY,
    invoice_id            text NOT NULL UNIQUE,
    invoice_number        text,
    source_base_url       text,
    client_id             text,
    customer_company      text,
    contact_name          text,
    contact_email         text,
    currency              text NOT NULL DEFAULT 'USD',
    subtotal              numeric(15, 2),
    total                 numeric(15, 2),
    status                text NOT NULL CHECK (status IN (
        'pending_payment', 'ready_to_place', 'placing', 'placed', 'processing',
        'shipped', 'delivered', 'cancelled', 'api_failed')),
    site_number           text UNIQUE,
    -- shipping info
    recipient             text,
    phone                 text,
    email                 text,
    company               text,
    address_line1         text,
    address_line2         text,
    city                  text,
    state                 text,
    postcode              text,
    country_iso2          text,
    country_name          text,
    sunsky_country_id     integer,
    shipping_way_id       integer,
    shipping_method       text,
    tracking_number       text,
    tracking_url          text,
    -- SUNSKY side
    sunsky_order_number   text UNIQUE,
    sunsky_status         integer,
    sunsky_amount         numeric(15, 4),
    sunsky_shipping_cost  numeric(15, 4),
    sunsky_total          numeric(15, 4),
    -- failures and attempts
    last_error_code       text,
    last_error_kind       text,
    last_error_message    text,
    last_error_hint       text,
    last_error_at         timestamptz,
    first_failed_at       timestamptz,
    attempts              integer NOT NULL DEFAULT 0,
    next_attempt_at       timestamptz,
    placing_started_at    timestamptz,
    paid_at               timestamptz,
    placed_at             timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_status_idx ON orders (status, updated_at);
CREATE INDEX orders_created_idx ON orders (created_at);
CREATE INDEX orders_client_idx ON orders (client_id);

CREATE TABLE order_items (
    order_id      bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no       integer NOT NULL,
    product_name  text NOT NULL,
    sku           text NOT NULL,
    quantity      integer NOT NULL CHECK (quantity > 0),
    unit_price    numeric(15, 2) NOT NULL,
    line_total    numeric(15, 2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_status_history (
    id           bigserial PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status  text,
    to_status    text NOT NULL,
    reason       text NOT NULL,
    actor        text NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);

-- Invoices that are not orders (drafts, no SUNSKY line): recorded, not dropped.
CREATE TABLE ignored_invoices (
    invoice_id   text NOT NULL,
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    reason       text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invoice_id, event_id)
);

CREATE TABLE app_settings (
    name        text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT 'migration'
);
INSERT INTO app_settings (name, value) VALUES
    ('auto_place', 'true'::jsonb),
    ('shipping_way_policy', '{"mode": "cheapest"}'::jsonb);

-- Idempotent consumers: one row per (consumer, message id), written in the same transaction
-- as the state change it guards.
CREATE TABLE processed_messages (
    consumer      text NOT NULL,
    message_id    text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Transactional outbox: events written with the state change, published by a relay.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    topic         text NOT NULL,
    key           text,
    value         bytea NOT NULL,
    headers       jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE published_at IS NULL;
