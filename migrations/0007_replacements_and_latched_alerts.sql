-- unrip-watch schema, part 7: what a replacement did to a deposit, and alerts that only a
-- person can resolve.

-- A replaced transfer whose replacement pays the same handle (a fee bump) is superseded: it
-- stays FAILED_OR_STUCK(replaced) and raises no funding_not_credited. One whose replacement
-- pays no watched handle was double-spent away (funding_double_spent). Cleared/kept as the
-- state follows a reorg: superseded_by only while stuck, double_spent_by for good.
ALTER TABLE funding_observations ADD COLUMN superseded_by TEXT;
ALTER TABLE funding_observations ADD COLUMN double_spent_by TEXT;
CREATE INDEX funding_observations_double_spent ON funding_observations (id) WHERE double_spent_by IS NOT NULL;

-- Latched alerts (funding_double_spent, finality_violated): raised once by their source and
-- firing until `POST /alerts/<key>/resolve` records who resolved it and why.
CREATE TABLE alert_latches (
    alert_key      TEXT PRIMARY KEY,
    rule           TEXT NOT NULL,
    subject        TEXT NOT NULL,
    reason         TEXT NOT NULL,
    details        JSONB NOT NULL DEFAULT '{}',
    labels         JSONB NOT NULL DEFAULT '{}',
    raised_at      TIMESTAMPTZ NOT NULL,
    resolved_at    TIMESTAMPTZ,
    resolved_by    TEXT,
    resolve_reason TEXT
);
CREATE INDEX alert_latches_open ON alert_latches (alert_key) WHERE resolved_at IS NULL;

-- Who resolved an alert by hand, and why (NULL for alerts resolved by their condition).
ALTER TABLE alert_events ADD COLUMN resolved_by TEXT;
ALTER TABLE alert_events ADD COLUMN resolve_reason TEXT;
