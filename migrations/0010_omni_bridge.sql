-- unrip-watch schema, part 10: a second bridge (the Omni Bridge, nBTC) beside POA.
-- A handle knows its bridge: NULL is the bridge its source implies (config/http handles and
-- POA's `deposit_address` ones credit through POA), 'omni' an Omni deposit address. An Omni
-- handle keeps the exact bytes of its DepositMsg: the address is derived from them, and they
-- are what is sent again to reproduce it after a restart.
ALTER TABLE funding_handles ADD COLUMN bridge TEXT;
ALTER TABLE funding_handles ADD COLUMN deposit_msg TEXT;
CREATE INDEX funding_handles_omni ON funding_handles (chain, account_id) WHERE bridge = 'omni';

-- The verifier token a snapshot credit was taken from: two bridges credit one chain's asset
-- as two tokens (BTC as nep141:btc.omft.near through POA, nep141:nbtc.bridge.near through
-- Omni), so what a rise already gave is counted per token, not per (chain, asset).
ALTER TABLE funding_observations ADD COLUMN verifier_token TEXT;
