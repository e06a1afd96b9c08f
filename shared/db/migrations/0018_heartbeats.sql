-- Each worker process records that it is alive (shared/heartbeat.py); the admin Health page
-- shows the latest beat per service and process.

CREATE TABLE service_heartbeats (
    service     text NOT NULL,
    instance    text NOT NULL,
    started_at  timestamptz NOT NULL,
    beat_at     timestamptz NOT NULL,
    PRIMARY KEY (service, instance)
);
