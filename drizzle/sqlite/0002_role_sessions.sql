CREATE TABLE `role_sessions` (
	`grant_id` text PRIMARY KEY NOT NULL,
	`role_arn` text NOT NULL,
	`session_name` text NOT NULL,
	`assumed_role_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	`deny_policy_name` text,
	`denied_at` integer,
	`deny_removed_at` integer,
	FOREIGN KEY (`grant_id`) REFERENCES `grants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `role_sessions_cleanup_idx` ON `role_sessions` (`deny_removed_at`,`expires_at`);