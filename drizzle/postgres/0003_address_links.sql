CREATE TABLE "address_links" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"resource_id" text NOT NULL,
	"duration_ms" bigint,
	"reason" text NOT NULL,
	"break_glass" integer DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"used_at" bigint,
	"address" text
);
--> statement-breakpoint
CREATE INDEX "address_links_expires_idx" ON "address_links" USING btree ("expires_at");