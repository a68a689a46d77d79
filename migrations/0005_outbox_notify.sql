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
