-- unrip-watch schema, part 4: pushing alert transitions to an Alertmanager or a webhook.
-- alert_events stays the source of truth; each push target keeps a cursor over its ids.

-- When a resolved alert had fired, so an event row alone rebuilds its unrip.alert.v1 payload.
ALTER TABLE alert_events ADD COLUMN fired_at TIMESTAMPTZ;
UPDATE alert_events e SET fired_at = (
    SELECT max(f.at) FROM alert_events f WHERE f.alert_key = e.alert_key AND f.status = 'firing' AND f.id < e.id)
WHERE e.status = 'resolved';

-- One row per push target ('alertmanager', 'webhook'): every event with id <= last_event_id
-- was delivered (2xx) or rejected for good (4xx); the cursor only moves forward.
CREATE TABLE alert_push_cursors (
    target           TEXT PRIMARY KEY,
    last_event_id    BIGINT NOT NULL CHECK (last_event_id >= 0),
    delivered        BIGINT NOT NULL DEFAULT 0,
    rejected         BIGINT NOT NULL DEFAULT 0,
    last_success_at  TIMESTAMPTZ,
    last_error       TEXT,
    last_error_at    TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Events a target refused for good (HTTP 4xx other than 408/429), kept for the operator.
CREATE TABLE alert_push_rejections (
    id              BIGSERIAL PRIMARY KEY,
    target          TEXT NOT NULL,
    alert_event_id  BIGINT NOT NULL REFERENCES alert_events (id),
    http_status     INTEGER NOT NULL,
    response        TEXT NOT NULL,
    rejected_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX alert_push_rejections_target ON alert_push_rejections (target, id);
