CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text NOT NULL,
	`kind` text NOT NULL,
	`user_id` text,
	`notice` text,
	`attempts` integer NOT NULL,
	`created_at` integer NOT NULL,
	`next_at` integer NOT NULL,
	`last_error` text,
	`done_at` integer,
	`abandoned` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `outbox_due_idx` ON `outbox` (`done_at`,`next_at`);