-- unrip-watch schema, part 6: the bridge as the source of funding handles, and how each
-- credit link was made. Nothing is deleted: a rotated or retired handle keeps its row.

-- Handles from `deposit_address` carry their NEAR account; a retired handle is still watched
-- for `[bridge] retired_handle_watch_s` after retired_at. A rotation keeps the address it
-- replaced on the new row, and `alert_until` bounds its `deposit_address_changed` alert.
ALTER TABLE funding_handles ADD COLUMN account_id TEXT;
ALTER TABLE funding_handles ADD COLUMN retired_at TIMESTAMPTZ;
ALTER TABLE funding_handles ADD COLUMN retire_reason TEXT;
ALTER TABLE funding_handles ADD COLUMN last_refreshed_at TIMESTAMPTZ;
ALTER TABLE funding_handles ADD COLUMN replaced_address TEXT;
ALTER TABLE funding_handles ADD COLUMN alert_until TIMESTAMPTZ;
-- A handle added with rescan_from: the adapter scans history from that height for it, once
-- (rescan_done_at set when the scan reached the cursor).
ALTER TABLE funding_handles ADD COLUMN rescan_from BIGINT;
ALTER TABLE funding_handles ADD COLUMN rescan_done_at TIMESTAMPTZ;
CREATE INDEX funding_handles_bridge ON funding_handles (chain, account_id) WHERE source = 'bridge' AND active;

-- How an observation was linked to its credit: tx_hash, address_amount, address_sum,
-- verifier_delta. Set once, with the deposit id, and never moved.
ALTER TABLE funding_observations ADD COLUMN credit_match TEXT;
-- When `notify_deposit` was sent for the transfer's transaction (at most once per transfer).
ALTER TABLE funding_observations ADD COLUMN bridge_notified_at TIMESTAMPTZ;
CREATE INDEX funding_observations_deposit ON funding_observations (bridge_deposit_id) WHERE bridge_deposit_id IS NOT NULL;

-- The timeline event of a link says how it was made; details carry figures such as the
-- token's minimum for a below-minimum deposit.
ALTER TABLE funding_observation_events ADD COLUMN match TEXT;
ALTER TABLE funding_observation_events ADD COLUMN details JSONB;

CREATE INDEX bridge_deposits_address ON bridge_deposits (chain, lower(address));
-- The reconciler joins each open observation to its linked deposit by deposit id alone.
CREATE INDEX bridge_deposits_deposit_id ON bridge_deposits (deposit_id);
