PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text,
	`kind` text NOT NULL,
	`lane` text NOT NULL,
	`user_id` text,
	`channel` text,
	`notice` text,
	`attempts` integer NOT NULL,
	`created_at` integer NOT NULL,
	`next_at` integer NOT NULL,
	`last_error` text,
	`done_at` integer,
	`abandoned` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_outbox`("id", "request_id", "kind", "lane", "user_id", "channel", "notice", "attempts", "created_at", "next_at", "last_error", "done_at", "abandoned") SELECT "id", "request_id", "kind", 'req:' || "request_id", "user_id", NULL, "notice", "attempts", "created_at", "next_at", "last_error", "done_at", "abandoned" FROM `outbox`;--> statement-breakpoint
DROP TABLE `outbox`;--> statement-breakpoint
ALTER TABLE `__new_outbox` RENAME TO `outbox`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `outbox_due_idx` ON `outbox` (`done_at`,`next_at`);--> statement-breakpoint
CREATE INDEX `outbox_lane_idx` ON `outbox` (`lane`,`done_at`,`id`);--> statement-breakpoint
ALTER TABLE `grants` ADD `close_attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `grants` ADD `retry_at` integer;--> statement-breakpoint
ALTER TABLE `requests` ADD `resource_snapshot` text;--> statement-breakpoint
ALTER TABLE `rule_holds` ADD `assume_role_arn` text;--> statement-breakpoint
ALTER TABLE `rule_holds` ADD `target_recorded` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `role_sessions_role_idx` ON `role_sessions` (`role_arn`,`expires_at`);