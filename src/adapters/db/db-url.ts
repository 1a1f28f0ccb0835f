/**
 * `HALLPASS_DB` names PostgreSQL when it is a `postgres://` or `postgresql://` URL, a SQLite file
 * otherwise. Apart from the PostgreSQL adapter so that deciding loads no `pg`.
 */
export const isPostgresUrl = (text: string): boolean => /^postgres(ql)?:\/\//i.test(text.trim());
