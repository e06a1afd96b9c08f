-- Issue 9: where SUNSKY ships an order it holds under our siteNumber, when that is not where we
-- ship (an address corrected after an unknown outcome). Kept on the order, in API Failed with
-- SUNSKY_ADDRESS_DIFFERS, until a person cancels it at SUNSKY and retries (the order is placed
-- again under a new siteNumber) or accepts SUNSKY's address (then these become our address).
-- The SUNSKY order number is kept here, not in sunsky_order_number: the tracker must not
-- follow an order we have not adopted.
ALTER TABLE orders
    ADD COLUMN sunsky_address_number     text,
    ADD COLUMN sunsky_address_receiver   text,
    ADD COLUMN sunsky_address_telephone  text,
    ADD COLUMN sunsky_address_line1      text,
    ADD COLUMN sunsky_address_line2      text,
    ADD COLUMN sunsky_address_city       text,
    ADD COLUMN sunsky_address_state      text,
    ADD COLUMN sunsky_address_postcode   text,
    ADD COLUMN sunsky_address_country_id integer,
    ADD COLUMN sunsky_address_country    text,
    -- false: SUNSKY's answer said nothing of where it ships
    ADD COLUMN sunsky_address_known      boolean;
