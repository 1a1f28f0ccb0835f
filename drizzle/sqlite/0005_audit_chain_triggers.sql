-- The audit trail is hash-chained (0004): every new event carries `prev_hash` and `hash`, computed by
-- the application (src/adapters/db/audit-log.ts) because SQLite has no SHA-256. These triggers keep
-- a writer that forgets the seal, or links to the wrong predecessor, from breaking the chain
-- silently; the UPDATE / DELETE refusals of 0001 stay as they are.
-- Events recorded before 0004 keep NULL seals ("legacy"); the first sealed event links to a digest
-- of all of them (see audit-log.ts), which SQL cannot check, so the link check below applies only
-- when the last event is sealed.
CREATE TRIGGER `audit_events_sealed` BEFORE INSERT ON `audit_events`
WHEN NEW.`hash` IS NULL OR NEW.`prev_hash` IS NULL
BEGIN
	SELECT RAISE(ABORT, 'audit_events is hash-chained: INSERT without prev_hash and hash refused');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_events_linked` BEFORE INSERT ON `audit_events`
WHEN (
	NOT EXISTS (SELECT 1 FROM `audit_events`)
	AND NEW.`prev_hash` IS NOT '0000000000000000000000000000000000000000000000000000000000000000'
) OR (
	(SELECT `hash` FROM `audit_events` ORDER BY `seq` DESC LIMIT 1) IS NOT NULL
	AND NEW.`prev_hash` IS NOT (SELECT `hash` FROM `audit_events` ORDER BY `seq` DESC LIMIT 1)
)
BEGIN
	SELECT RAISE(ABORT, 'audit_events is hash-chained: prev_hash must be the hash of the last event');
END;
