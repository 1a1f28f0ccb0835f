CREATE TABLE `address_links` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`resource_id` text NOT NULL,
	`duration_ms` integer,
	`reason` text NOT NULL,
	`break_glass` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`address` text
);
--> statement-breakpoint
CREATE INDEX `address_links_expires_idx` ON `address_links` (`expires_at`);