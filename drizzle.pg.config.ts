import { defineConfig } from 'drizzle-kit';

/**
 * drizzle-kit reads this to generate the PostgreSQL migrations into `drizzle/postgres/`
 * (`npm run db:generate:pg`) from `src/adapters/db/pg-schema.ts`. The SQLite ones: `drizzle.config.ts`.
 */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/adapters/db/pg-schema.ts',
  out: './drizzle/postgres',
  strict: true,
  verbose: true,
});
