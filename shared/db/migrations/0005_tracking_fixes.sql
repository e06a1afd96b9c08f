-- Tracker review fixes.
-- sunsky_synced_at is now the read time of the last SUNSKY view applied to the order (a view
-- read before it is stale and ignored). When the tracker last tried to read the order alone,
-- successfully or not, is kept apart, so a failing read still rotates the one-by-one re-reads
-- without making a fresher read that is still on its way look stale.
ALTER TABLE orders ADD COLUMN sunsky_tried_at timestamptz;

-- The sweep pages through open orders newest placed first, by (placed_at, id).
DROP INDEX IF EXISTS orders_tracked_idx;
CREATE INDEX orders_tracked_idx ON orders (placed_at, id)
    WHERE status IN ('placed', 'processing', 'shipped');
