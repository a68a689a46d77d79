-- unrip-watch schema, part 2: the Kafka inputs (reference prices, execution submission
-- results; inventory snapshots go to credit_snapshots), dead letters for malformed input,
-- and the alert hysteresis marker.

CREATE TABLE reference_prices (
    id           BIGSERIAL PRIMARY KEY,
    event_id     UUID NOT NULL UNIQUE,
    pair         TEXT NOT NULL,
    price        NUMERIC NOT NULL CHECK (price > 0),
    source       TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reference_prices_pair ON reference_prices (pair, occurred_at DESC);

ALTER TABLE credit_snapshots ADD COLUMN event_id UUID UNIQUE;
CREATE INDEX credit_snapshots_account ON credit_snapshots (account_id, occurred_at DESC);

CREATE TABLE execution_results (
    id           BIGSERIAL PRIMARY KEY,
    event_id     UUID NOT NULL UNIQUE,
    quote_id     TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('ok', 'rpc_error', 'non_ok_result', 'timeout', 'transport')),
    error        JSONB,
    occurred_at  TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX execution_results_failures ON execution_results (id) WHERE outcome <> 'ok';

-- Malformed input: kept with the reason, never fatal, skipped.
CREATE TABLE dead_letters (
    id               BIGSERIAL PRIMARY KEY,
    topic            TEXT NOT NULL,
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     BIGINT NOT NULL,
    message_key      BYTEA,
    payload          BYTEA NOT NULL,
    reason           TEXT NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (topic, kafka_partition, kafka_offset)
);

-- A firing alert whose condition went away: when, so it resolves only after `for_s` (hysteresis).
ALTER TABLE alert_state ADD COLUMN clearing_since TIMESTAMPTZ;
