import { randomBytes } from 'node:crypto';
import type { Clock, Ids, Timers } from '../../app/ports';

export const systemClock: Clock = { now: () => new Date() };

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const ALPHABET = 'abcdefghijkmnopqrstuvwxyz23456789';

/** 16 characters from a 33-letter alphabet (~80 bits): unguessable, easy to read aloud, valid in STS session names. */
function token(length = 16): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export const randomIds: Ids = { request: () => `req_${token()}`, grant: () => `grt_${token()}` };
