-- The audit trail is append-only: refuse any UPDATE or DELETE, whoever issues it.
-- Triggers are invisible to drizzle-kit's snapshot, so they live in this hand-written migration.
CREATE TRIGGER `audit_events_no_update` BEFORE UPDATE ON `audit_events`
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_events_no_delete` BEFORE DELETE ON `audit_events`
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
