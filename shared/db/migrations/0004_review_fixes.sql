-- Keep Perfex's quantity as it came (a fractional one must become an API Failed order with
-- FRACTIONAL_QUANTITY, not a rejected insert), and count automatic retries apart from
-- createOrder attempts (failures before createOrder must count towards the retry cap).

ALTER TABLE order_items DROP CONSTRAINT IF EXISTS order_items_quantity_check;
ALTER TABLE order_items ALTER COLUMN quantity TYPE numeric(15, 2);

ALTER TABLE orders ADD COLUMN auto_retries integer NOT NULL DEFAULT 0;
