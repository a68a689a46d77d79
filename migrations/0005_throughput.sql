-- Wakes the outbox relays when outbox rows commit: one notification per inserting statement
-- (PostgreSQL folds identical ones within a transaction and delivers them at commit), so a
-- relay publishes as soon as an event is durable instead of polling.
CREATE FUNCTION unrip_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('unrip_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION unrip_outbox_notify();

-- Open and stuck transfers written before 0003 got state_since = updated_at. The alert rules
-- now count budgets from state_since alone: take it from their last change of state.
UPDATE funding_observations o SET state_since = e.at
FROM (SELECT observation_id, max(at) AS at FROM funding_observation_events
      WHERE previous_state IS DISTINCT FROM state GROUP BY observation_id) e
WHERE e.observation_id = o.id AND o.state <> 'CREDITED' AND o.state_since IS DISTINCT FROM e.at;

-- Open transfers by state, chain and how long they have been in it: the alert evaluator reads
-- only those past their budget, the tracker restore and the handle view by state. It replaces
-- the (chain, state) index (one index fewer to maintain per write).
CREATE INDEX funding_observations_open ON funding_observations (state, chain, state_since);
DROP INDEX funding_observations_state;

-- Outbox payloads are stored as the JSON text that is published: `json` keeps the text as
-- written (validated, not re-encoded), so neither the writer nor the relay pays for a binary
-- round trip. `->`/`->>` work as before. This rewrites the outbox under an exclusive lock: on
-- a large database, delete old published rows first (see README, Storage).
ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json;
