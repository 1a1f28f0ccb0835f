CREATE TABLE `api_requests` (
	`request_id` text PRIMARY KEY NOT NULL,
	`token_id` text NOT NULL,
	`token_name` text NOT NULL,
	`owner_id` text NOT NULL,
	`agent_name` text,
	`on_behalf_of` text,
	`lease_ttl_ms` integer,
	`lease_expires_at` integer,
	`lease_lapsed_at` integer,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `api_requests_lease_idx` ON `api_requests` (`lease_expires_at`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`owner_id` text NOT NULL,
	`resources` text NOT NULL,
	`auto_approve_within_ms` integer,
	`secret_hash` text NOT NULL,
	`previous_hash` text,
	`previous_valid_until` integer,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`rotated_at` integer,
	`revoked_at` integer,
	`revoked_by` text,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_name_live_uq` ON `api_tokens` (`name`) WHERE "api_tokens"."revoked_at" IS NULL;