-- Tracking (issue 5): what the tracker keeps beside the order aggregate.
-- Status moves, tracking number/URL and the raw SUNSKY status live in the columns of 0001; the
-- history table keeps when each move happened and why (a cancellation's reason included).

-- When the tracker last read this order from SUNSKY one by one (getOrderDetails): the sweep
-- re-reads open orders older than its getOrderList window by this, least recently first.
ALTER TABLE orders ADD COLUMN sunsky_synced_at timestamptz;

-- The sweep lists the orders SUNSKY still holds open, by when they were placed.
CREATE INDEX orders_tracked_idx ON orders (placed_at)
    WHERE status IN ('placed', 'processing', 'shipped');
