ALTER TABLE `grants` ADD `warned_at` integer;--> statement-breakpoint
ALTER TABLE `grants` ADD `break_glass` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `grants` ADD `reviewed_by` text;--> statement-breakpoint
ALTER TABLE `grants` ADD `reviewed_at` integer;--> statement-breakpoint
ALTER TABLE `requests` ADD `kind` text DEFAULT 'access' NOT NULL;--> statement-breakpoint
ALTER TABLE `requests` ADD `extends_grant_id` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `break_glass` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `requests` ADD `reminded_at` integer;