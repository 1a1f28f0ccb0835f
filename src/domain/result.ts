/** A business outcome as data: `ok(value)` or `err(code, detail)`. Bugs and infrastructure failures throw instead. */
export type Ok<T> = { readonly ok: true; readonly value: T };

/**
 * A refusal: its code `C` and the facts `D` its sentence is written from (`undefined`: the code says
 * it all, and the object has no `detail` at all). Distributes over a union of codes, so
 * `Err<'A' | 'B', D>` is `Err<'A', D> | Err<'B', D>` and each code can be picked out by `error`.
 */
export type Err<C extends string, D = undefined> = C extends string
  ? { readonly ok: false; readonly error: C; readonly detail: D }
  : never;

/** Any refusal, whatever its code and detail. */
export type AnyErr = Err<string, unknown>;

/** `E` is the union of the refusals a producer can return, each with its own detail. */
export type Result<T, E extends AnyErr> = Ok<T> | E;

/** The refusals a function can return (awaited, for an async one). */
export type FailureOf<F extends (...args: never[]) => unknown> = Extract<
  Awaited<ReturnType<F>>,
  { ok: false }
>;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });

/** A refusal; the code and the detail keep their literal types (`{ state: 'timed_out' }`). */
export function err<const C extends string>(error: C): Err<C>;
export function err<const C extends string, const D>(error: C, detail: D): Err<C, D>;
export function err(error: string, detail?: unknown): AnyErr {
  return (detail === undefined ? { ok: false, error } : { ok: false, error, detail }) as AnyErr;
}
