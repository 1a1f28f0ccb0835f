CREATE TABLE "api_requests" (
	"request_id" text PRIMARY KEY NOT NULL,
	"token_id" text NOT NULL,
	"token_name" text NOT NULL,
	"owner_id" text NOT NULL,
	"agent_name" text,
	"on_behalf_of" text,
	"lease_ttl_ms" bigint,
	"lease_expires_at" bigint,
	"lease_lapsed_at" bigint
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"owner_id" text NOT NULL,
	"resources" text NOT NULL,
	"auto_approve_within_ms" bigint,
	"secret_hash" text NOT NULL,
	"previous_hash" text,
	"previous_valid_until" bigint,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"rotated_at" bigint,
	"revoked_at" bigint,
	"revoked_by" text,
	"last_used_at" bigint
);
--> statement-breakpoint
ALTER TABLE "api_requests" ADD CONSTRAINT "api_requests_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_requests_lease_idx" ON "api_requests" USING btree ("lease_expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_name_live_uq" ON "api_tokens" USING btree ("name") WHERE "api_tokens"."revoked_at" IS NULL;