import { defineConfig } from 'drizzle-kit';

/** drizzle-kit reads this to generate migrations into `drizzle/` (`npm run db:generate`). */
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/adapters/db/schema.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
});
