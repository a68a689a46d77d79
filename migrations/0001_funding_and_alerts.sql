-- unrip-watch schema, part 1: funding handles, chain cursors, observations and their
-- append-only events, bridge deposits, verifier credit snapshots, alerts, outbox.
-- Nothing here is a spendable balance: chain amounts are pre-credit visibility only.

CREATE TABLE funding_handles (
    id          BIGSERIAL PRIMARY KEY,
    chain       TEXT NOT NULL,
    network     TEXT NOT NULL,
    asset       TEXT NOT NULL,
    address     TEXT NOT NULL,
    label       TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT 'config',
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (chain, network, address, asset)
);

CREATE TABLE chain_cursors (
    adapter       TEXT PRIMARY KEY,
    chain         TEXT NOT NULL,
    height        BIGINT,
    block_hash    TEXT,
    recent_blocks JSONB NOT NULL DEFAULT '[]',
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE funding_observations (
    id                   BIGSERIAL PRIMARY KEY,
    chain                TEXT NOT NULL,
    network              TEXT NOT NULL,
    asset                TEXT NOT NULL,
    address              TEXT NOT NULL,
    tx_hash              TEXT NOT NULL,
    output_index         INTEGER NOT NULL,
    amount               NUMERIC(78, 0) NOT NULL CHECK (amount >= 0),
    state                TEXT NOT NULL CHECK (state IN
                           ('SEEN_UNCONFIRMED', 'SEEN_CONFIRMED', 'CREDIT_PENDING', 'CREDITED', 'FAILED_OR_STUCK')),
    reason               TEXT,
    replaced_by          TEXT,
    confirmations        INTEGER NOT NULL DEFAULT 0,
    block_height         BIGINT,
    block_hash           TEXT,
    demoted_at_height    BIGINT,
    bridge_deposit_id    TEXT,
    near_tx_hash         TEXT,
    verifier_snapshot_id TEXT,
    first_seen_at        TIMESTAMPTZ NOT NULL,
    confirmed_at         TIMESTAMPTZ,
    credited_at          TIMESTAMPTZ,
    updated_at           TIMESTAMPTZ NOT NULL,
    UNIQUE (chain, tx_hash, output_index),
    CHECK ((state = 'FAILED_OR_STUCK') = (reason IS NOT NULL))
);
CREATE INDEX funding_observations_state ON funding_observations (chain, state);
CREATE INDEX funding_observations_address ON funding_observations (address);

CREATE TABLE funding_observation_events (
    id                   BIGSERIAL PRIMARY KEY,
    observation_id       BIGINT NOT NULL REFERENCES funding_observations (id),
    kind                 TEXT NOT NULL,
    state                TEXT NOT NULL,
    previous_state       TEXT,
    reason               TEXT,
    confirmations        INTEGER NOT NULL,
    block_height         BIGINT,
    block_hash           TEXT,
    bridge_deposit_id    TEXT,
    near_tx_hash         TEXT,
    verifier_snapshot_id TEXT,
    event_id             UUID NOT NULL UNIQUE,
    at                   TIMESTAMPTZ NOT NULL
);
CREATE INDEX funding_observation_events_obs ON funding_observation_events (observation_id, id);

CREATE TABLE bridge_deposits (
    id             BIGSERIAL PRIMARY KEY,
    chain          TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    deposit_id     TEXT NOT NULL,
    tx_hash        TEXT,
    near_tx_hash   TEXT,
    address        TEXT,
    asset          TEXT,
    amount         NUMERIC(78, 0),
    status         TEXT NOT NULL,
    raw            JSONB NOT NULL,
    first_seen_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (chain, deposit_id)
);
CREATE INDEX bridge_deposits_tx ON bridge_deposits (tx_hash);

CREATE TABLE credit_snapshots (
    id           BIGSERIAL PRIMARY KEY,
    snapshot_id  TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    balances     JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE alert_events (
    id          BIGSERIAL PRIMARY KEY,
    alert_key   TEXT NOT NULL,
    rule        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    reason      TEXT NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}',
    labels      JSONB NOT NULL DEFAULT '{}',
    event_id    UUID NOT NULL UNIQUE,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX alert_events_key ON alert_events (alert_key, id);

CREATE TABLE alert_state (
    alert_key   TEXT PRIMARY KEY,
    rule        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'firing', 'resolved')),
    since       TIMESTAMPTZ NOT NULL,
    reason      TEXT NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}',
    labels      JSONB NOT NULL DEFAULT '{}',
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    topic         TEXT NOT NULL,
    message_key   TEXT NOT NULL,
    event_id      UUID NOT NULL UNIQUE,
    payload       JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
