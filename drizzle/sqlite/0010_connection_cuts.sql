CREATE TABLE `connection_cuts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`grant_id` text NOT NULL,
	`region` text NOT NULL,
	`group_id` text NOT NULL,
	`assume_role_arn` text,
	`protocol` text NOT NULL,
	`from_port` integer NOT NULL,
	`to_port` integer NOT NULL,
	`cidr` text NOT NULL,
	`network_acl_id` text,
	`rule_number` integer,
	`state` text NOT NULL,
	`remove_at` integer,
	`note` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`grant_id`) REFERENCES `grants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "connection_cuts_state_check" CHECK("connection_cuts"."state" IN ('planned', 'adding', 'in_place', 'removing', 'removed', 'refused'))
);
--> statement-breakpoint
CREATE INDEX `connection_cuts_grant_idx` ON `connection_cuts` (`grant_id`);--> statement-breakpoint
CREATE INDEX `connection_cuts_state_idx` ON `connection_cuts` (`state`);--> statement-breakpoint
CREATE UNIQUE INDEX `connection_cuts_entry_uq` ON `connection_cuts` (`network_acl_id`,`rule_number`) WHERE "connection_cuts"."state" IN ('adding', 'in_place', 'removing');