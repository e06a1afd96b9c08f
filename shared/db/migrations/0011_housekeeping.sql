-- Housekeeping (issue 9): sent outbox rows and processed message ids are deleted in bounded
-- batches once older than HOUSEKEEPING_RETENTION_DAYS; these indexes find the oldest cheaply.
CREATE INDEX outbox_sent_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX processed_messages_at_idx ON processed_messages (processed_at);
