import { MAX_REASON_LENGTH } from '../domain/command';
import { looksLikeDuration, parseDuration } from '../domain/duration';
import { type Actor, findResource, type Policy, type Resource } from '../domain/policy';
import { type Err, err, ok, type Result } from '../domain/result';
import { type RequestCheckError, type SubmitCommand, validateRequest } from './submit-request';

/** The request form as typed: each text field as Slack sends it (untrimmed, `''` when left empty). */
export type RequestForm = {
  readonly resourceId: string;
  readonly duration: string;
  readonly address: string;
  readonly reason: string;
  readonly breakGlass: boolean;
};

export type RequestFormField = 'resource' | 'duration' | 'address' | 'reason' | 'breakGlass';

/** What can be wrong with a form field: its own checks, or the policy's for the person who sent it. */
export type FormError =
  | DurationError
  | Err<'MISSING_REASON'>
  | Err<'REASON_TOO_LONG', { readonly length: number; readonly max: number }>
  | Err<'UNKNOWN_RESOURCE', { readonly resourceId: string }>
  | RequestCheckError;

/** What is wrong with the form, at most one error per field; the adapter says each beside its field. */
export type FormErrors = Partial<Record<RequestFormField, FormError>>;

/** A form duration that does not parse, or is zero (`input`: as typed). */
export type DurationError = Err<'INVALID_DURATION' | 'ZERO_DURATION', { readonly input: string }>;

/** The request a well-formed form asks for, less who asks. */
export type FormRequest = Omit<SubmitCommand, 'actor'>;

export type FormRead =
  | { readonly ok: true; readonly request: FormRequest; readonly resource: Resource }
  | { readonly ok: false; readonly errors: FormErrors };

/** A duration as typed in a form (`90m`, `2h`, `1h30m`): parsed, and not zero. Pure. */
export function readDuration(text: string): Result<number, DurationError> {
  const durationMs = looksLikeDuration(text) ? parseDuration(text) : undefined;
  if (durationMs === undefined) return err('INVALID_DURATION', { input: text });
  if (durationMs === 0) return err('ZERO_DURATION', { input: text });
  return ok(durationMs);
}

/**
 * Everything the form says that can be checked without knowing who sent it: the duration parses and is
 * not zero (empty means the resource's default), the reason is there and not too long, the resource is in
 * the policy. Pure: no Slack, no directory, so the answer fits Slack's 3 seconds whatever they do.
 */
export function readRequestForm(form: RequestForm, policy: Policy): FormRead {
  const errors: FormErrors = {};
  const durationText = form.duration.trim();
  const reason = form.reason.trim();
  const address = form.address.trim();
  let durationMs: number | undefined;
  if (durationText !== '') {
    const duration = readDuration(durationText);
    if (duration.ok) durationMs = duration.value;
    else errors.duration = duration;
  }
  if (reason === '') errors.reason = err('MISSING_REASON');
  if (reason.length > MAX_REASON_LENGTH) {
    errors.reason = err('REASON_TOO_LONG', { length: reason.length, max: MAX_REASON_LENGTH });
  }
  const resource = findResource(policy, form.resourceId);
  if (resource === undefined) errors.resource = err('UNKNOWN_RESOURCE', { resourceId: form.resourceId });
  if (resource === undefined || Object.keys(errors).length > 0) return { ok: false, errors };
  const request: FormRequest = {
    resourceId: form.resourceId,
    durationMs,
    address: address === '' ? undefined : address,
    reason,
    breakGlass: form.breakGlass,
  };
  return { ok: true, request, resource };
}

const FIELD_OF_ERROR: Readonly<Partial<Record<RequestCheckError['error'], RequestFormField>>> = {
  ADDRESS_REQUIRED: 'address',
  ADDRESS_NOT_APPLICABLE: 'address',
  INVALID_ADDRESS: 'address',
  ADDRESS_HOST_BITS_SET: 'address',
  ADDRESS_TOO_WIDE: 'address',
  DURATION_REQUIRED: 'duration',
  DURATION_TOO_SHORT: 'duration',
  DURATION_TOO_LONG: 'duration',
  BREAK_GLASS_REASON_TOO_SHORT: 'reason',
  BREAK_GLASS_NOT_ALLOWED: 'breakGlass',
};

/**
 * The policy's checks of a well-formed form for the person who sent it (`validateRequest`: who may ask,
 * break-glass, duration bounds, the address), the error placed beside the field it is about; anything
 * about the person (a guest, not a requester) goes beside the resource. `undefined` when it passes. Pure.
 */
export function checkRequestForm(
  resource: Resource,
  request: FormRequest,
  actor: Actor,
): FormErrors | undefined {
  const valid = validateRequest(resource, { actor, ...request });
  if (valid.ok) return undefined;
  return { [FIELD_OF_ERROR[valid.error] ?? 'resource']: valid };
}
