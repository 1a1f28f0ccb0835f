CREATE TABLE `approvals` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text NOT NULL,
	`approver_id` text NOT NULL,
	`at` integer NOT NULL,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `approvals_request_approver_uq` ON `approvals` (`request_id`,`approver_id`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`type` text NOT NULL,
	`request_id` text,
	`grant_id` text,
	`details` text
);
--> statement-breakpoint
CREATE INDEX `audit_events_request_idx` ON `audit_events` (`request_id`,`seq`);--> statement-breakpoint
CREATE TABLE `grants` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`resource_id` text NOT NULL,
	`requester_id` text NOT NULL,
	`state` text NOT NULL,
	`starts_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`ended_at` integer,
	`end_reason` text,
	`ended_by` text,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "grants_state_check" CHECK("grants"."state" IN ('opening', 'active', 'closing', 'closed', 'failed')),
	CONSTRAINT "grants_end_reason_check" CHECK("grants"."end_reason" IS NULL OR "grants"."end_reason" IN ('expired', 'revoked', 'done', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `grants_request_uq` ON `grants` (`request_id`);--> statement-breakpoint
CREATE INDEX `grants_state_expires_idx` ON `grants` (`state`,`expires_at`);--> statement-breakpoint
CREATE TABLE `requests` (
	`id` text PRIMARY KEY NOT NULL,
	`resource_id` text NOT NULL,
	`requester_id` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`source_cidr` text,
	`source_family` integer,
	`source_prefix` integer,
	`reason` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`approval_deadline` integer NOT NULL,
	`decided_at` integer,
	`decided_by` text,
	`note` text,
	`message_channel` text,
	`message_ts` text,
	CONSTRAINT "requests_state_check" CHECK("requests"."state" IN ('pending', 'approved', 'denied', 'cancelled', 'timed_out', 'failed')),
	CONSTRAINT "requests_source_check" CHECK(("requests"."source_cidr" IS NULL AND "requests"."source_family" IS NULL AND "requests"."source_prefix" IS NULL) OR ("requests"."source_cidr" IS NOT NULL AND "requests"."source_family" IN (4, 6) AND "requests"."source_prefix" IS NOT NULL)),
	CONSTRAINT "requests_message_check" CHECK(("requests"."message_channel" IS NULL) = ("requests"."message_ts" IS NULL))
);
--> statement-breakpoint
CREATE INDEX `requests_state_deadline_idx` ON `requests` (`state`,`approval_deadline`);--> statement-breakpoint
CREATE INDEX `requests_requester_idx` ON `requests` (`requester_id`);--> statement-breakpoint
CREATE TABLE `rule_holds` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`grant_id` text NOT NULL,
	`rule_id` text NOT NULL,
	`region` text NOT NULL,
	`group_id` text NOT NULL,
	`protocol` text NOT NULL,
	`from_port` integer NOT NULL,
	`to_port` integer NOT NULL,
	`cidr` text NOT NULL,
	`managed` integer NOT NULL,
	`released_at` integer,
	FOREIGN KEY (`grant_id`) REFERENCES `grants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "rule_holds_protocol_check" CHECK("rule_holds"."protocol" IN ('tcp', 'udp')),
	CONSTRAINT "rule_holds_managed_check" CHECK("rule_holds"."managed" IN (0, 1))
);
--> statement-breakpoint
CREATE INDEX `rule_holds_rule_idx` ON `rule_holds` (`rule_id`);--> statement-breakpoint
CREATE INDEX `rule_holds_grant_idx` ON `rule_holds` (`grant_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `rule_holds_live_uq` ON `rule_holds` (`grant_id`,`rule_id`) WHERE "rule_holds"."released_at" IS NULL;