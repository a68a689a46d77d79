-- A timeline event is written only in the transaction that inserted, locked or read its
-- observation (ObservationBatch; FundingRepository.appendEvent, which every other writer uses,
-- fails when the row is missing), and observations are never deleted. The foreign key's
-- check (a KEY SHARE lock on the observation, per event row) cost about a tenth of the
-- database's time per observation at 10,000/s (README, Benchmarks): it goes. The index on
-- observation_id stays for the timeline reads.
ALTER TABLE funding_observation_events DROP CONSTRAINT IF EXISTS funding_observation_events_observation_id_fkey;
