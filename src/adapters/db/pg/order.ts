import { type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';

/**
 * A text column ordered byte by byte, as SQLite orders text. PostgreSQL orders text by its database's
 * collation, which for most locales sorts by language rules (case and punctuation weighed differently):
 * every ORDER BY on text in the PostgreSQL stores goes through here, so both engines list in one order.
 */
export const bytewise = (column: PgColumn): SQL => sql`${column} COLLATE "C"`;
