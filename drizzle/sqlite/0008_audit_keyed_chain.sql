ALTER TABLE `audit_events` ADD `key_id` text;--> statement-breakpoint
CREATE INDEX `audit_events_type_idx` ON `audit_events` (`type`,`seq`);