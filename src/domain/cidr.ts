import ipaddr from 'ipaddr.js';
import { err, ok, type Result } from './result';

/** A normalized source address: always a CIDR, host bits clear. */
export type SourceCidr = { readonly family: 4 | 6; readonly cidr: string; readonly prefix: number };

export type CidrError =
  | 'INVALID_ADDRESS'
  | 'ADDRESS_HOST_BITS_SET'
  | 'ADDRESS_TOO_WIDE'
  | 'ADDRESS_NOT_PUBLIC_SAFE';

/** Default narrowest-allowed prefixes (`maxPrefix`): a single host. */
export const DEFAULT_MAX_PREFIX = { 4: 32, 6: 128 } as const;

/**
 * Parses an address typed by a user (`203.0.113.7`, `203.0.113.0/28`, `2001:db8::1`, `2001:db8::/64`).
 * A bare address becomes a single-host CIDR. A CIDR with host bits set is refused with the
 * network it probably meant, because silently widening or narrowing what the user asked is wrong.
 */
export function parseSourceAddress(text: string): Result<SourceCidr, CidrError> {
  const input = text.trim();
  if (input.length === 0 || input.length > 64) return err('INVALID_ADDRESS', { input });
  try {
    if (input.includes('/')) {
      if (!ipaddr.isValidCIDR(input)) return err('INVALID_ADDRESS', { input });
      const [addr, prefix] = ipaddr.parseCIDR(input);
      const family = addr.kind() === 'ipv4' ? 4 : 6;
      const network = networkOf(addr, prefix);
      if (network.toString() !== addr.toString()) {
        return err('ADDRESS_HOST_BITS_SET', { input, suggestion: `${network.toString()}/${prefix}` });
      }
      return ok({ family, cidr: `${network.toString()}/${prefix}`, prefix });
    }
    if (!ipaddr.isValid(input)) return err('INVALID_ADDRESS', { input });
    // IPv4 written in non-dotted-quad forms ("127.1", "0x7f000001") is valid to ipaddr.js but never what a user means.
    if (input.includes('.') && !input.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(input)) {
      return err('INVALID_ADDRESS', { input });
    }
    const addr = ipaddr.parse(input);
    if (addr.kind() === 'ipv4') return ok({ family: 4, cidr: `${addr.toString()}/32`, prefix: 32 });
    return ok({ family: 6, cidr: `${addr.toString()}/128`, prefix: 128 });
  } catch {
    return err('INVALID_ADDRESS', { input });
  }
}

function networkOf(addr: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): ipaddr.IPv4 | ipaddr.IPv6 {
  if (addr.kind() === 'ipv4') return ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${prefix}`);
  return ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${prefix}`);
}

/**
 * Refuses anything wider than the policy allows. `maxPrefix` is the *narrowest* prefix length the
 * policy requires (32 means single hosts only); a shorter prefix is wider and refused. `/0` is
 * refused whatever the policy says: "the whole internet" is never temporary access.
 */
export function checkWidth(
  source: SourceCidr,
  maxPrefix: { readonly 4: number; readonly 6: number },
): Result<SourceCidr, CidrError> {
  const required = source.family === 4 ? maxPrefix[4] : maxPrefix[6];
  if (source.prefix === 0 || source.prefix < required) {
    return err('ADDRESS_TOO_WIDE', {
      cidr: source.cidr,
      prefix: source.prefix,
      required,
      family: source.family,
    });
  }
  return ok(source);
}
