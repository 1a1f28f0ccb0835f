/** A business outcome as data: `ok(value)` or `err(code, detail?)`. Bugs and infrastructure failures throw instead. */
export type Ok<T> = { readonly ok: true; readonly value: T };
export type Err<E extends string> = {
  readonly ok: false;
  readonly error: E;
  readonly detail?: Record<string, unknown>;
};
export type Result<T, E extends string> = Ok<T> | Err<E>;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const err = <E extends string>(error: E, detail?: Record<string, unknown>): Err<E> =>
  detail === undefined ? { ok: false, error } : { ok: false, error, detail };
