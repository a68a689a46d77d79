-- When an observation entered its current state: the reconciler's time budgets count from it.
ALTER TABLE funding_observations ADD COLUMN state_since TIMESTAMPTZ;
UPDATE funding_observations SET state_since = updated_at;
ALTER TABLE funding_observations ALTER COLUMN state_since SET NOT NULL;
ALTER TABLE funding_observations ALTER COLUMN state_since SET DEFAULT now();

-- Which verifier snapshot reflected which observation (one snapshot delta per observation).
CREATE INDEX funding_observations_verifier ON funding_observations (verifier_snapshot_id) WHERE verifier_snapshot_id IS NOT NULL;
CREATE INDEX bridge_deposits_lower_tx ON bridge_deposits (lower(tx_hash));
CREATE INDEX credit_snapshots_account_time ON credit_snapshots (account_id, occurred_at, id);
