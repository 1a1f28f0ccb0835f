import { defineConfig } from 'drizzle-kit';

/**
 * drizzle-kit reads this to generate the SQLite migrations into `drizzle/sqlite/` (`npm run db:generate`).
 * The PostgreSQL ones have their own config, `drizzle.pg.config.ts`.
 */
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/adapters/db/schema.ts',
  out: './drizzle/sqlite',
  strict: true,
  verbose: true,
});
