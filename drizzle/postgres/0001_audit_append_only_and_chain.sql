-- The audit trail is append-only and hash-chained, as on SQLite (drizzle/sqlite/0001_audit_append_only.sql
-- and 0005_audit_chain_triggers.sql): the same triggers, names, conditions and messages, in PL/pgSQL.
-- Triggers are invisible to drizzle-kit's snapshot, so they live in this hand-written migration.
--
-- Where PostgreSQL differs, and what is done about it:
-- * TRUNCATE empties a table without firing row triggers, so audit_events_no_truncate refuses it too
--   (SQLite has no TRUNCATE; its DELETE without WHERE fires the DELETE trigger).
-- * SQLite lets one writer in at a time, so its link check always compares with the true last event.
--   PostgreSQL runs writers side by side: two appends could both read the same last event and both
--   link to it, forking the chain. audit_events_linked therefore first takes a transaction-level
--   advisory lock (key 7525579167591852404, ASCII 'hp:audit'; PG_AUDIT_APPEND_LOCK_KEY in
--   src/adapters/db/open-pg.ts), so appends queue one behind another as SQLite's writers do. Under
--   READ COMMITTED each statement of the trigger then reads the latest committed event; under
--   SERIALIZABLE PostgreSQL aborts one of two racing appends itself. REPEATABLE READ would keep reading
--   the snapshot taken before the lock, so an append under it is refused. A writer that reads the last
--   hash before appending takes the same lock first, or may be refused (never forked).
-- * PostgreSQL fires triggers for the same event in name order: audit_events_linked before
--   audit_events_sealed, the order SQLite fires them (newest first), so a row failing both is refused
--   with the same message on both engines.
-- Refusals use SQLSTATE 23000 (integrity_constraint_violation): SQLite reports RAISE(ABORT) as a
-- constraint failure (SQLITE_CONSTRAINT_TRIGGER).
CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();
--> statement-breakpoint
CREATE FUNCTION audit_events_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.hash IS NULL OR NEW.prev_hash IS NULL THEN
		RAISE EXCEPTION 'audit_events is hash-chained: INSERT without prev_hash and hash refused'
			USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_sealed BEFORE INSERT ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_sealed();
--> statement-breakpoint
-- Events with NULL seals ("legacy") cannot be written here, but the check keeps SQLite's shape: the link
-- is checked only when the last event is sealed; the first event links to 64 zeros.
CREATE FUNCTION audit_events_linked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	last_hash text;
	has_events boolean;
BEGIN
	IF current_setting('transaction_isolation') = 'repeatable read' THEN
		RAISE EXCEPTION 'audit_events is hash-chained: append under READ COMMITTED or SERIALIZABLE, not REPEATABLE READ'
			USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	PERFORM pg_advisory_xact_lock(7525579167591852404);
	SELECT hash INTO last_hash FROM audit_events ORDER BY seq DESC LIMIT 1;
	has_events := FOUND;
	IF (
		NOT has_events
		AND NEW.prev_hash IS DISTINCT FROM '0000000000000000000000000000000000000000000000000000000000000000'
	) OR (
		last_hash IS NOT NULL
		AND NEW.prev_hash IS DISTINCT FROM last_hash
	) THEN
		RAISE EXCEPTION 'audit_events is hash-chained: prev_hash must be the hash of the last event'
			USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_linked BEFORE INSERT ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_linked();
