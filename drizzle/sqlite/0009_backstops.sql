CREATE TABLE `backstops` (
	`rule_id` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`group_id` text NOT NULL,
	`assume_role_arn` text,
	`fire_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
