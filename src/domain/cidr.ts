import ipaddr from 'ipaddr.js';
import { type Err, err, ok, type Result } from './result';

/** A normalized source address: always a CIDR, host bits clear. */
export type SourceCidr = { readonly family: 4 | 6; readonly cidr: string; readonly prefix: number };

/** An address that does not parse, or a range that is not its own network (with the one it probably meant). */
export type AddressError =
  | Err<'INVALID_ADDRESS', { readonly input: string }>
  | Err<'ADDRESS_HOST_BITS_SET', { readonly input: string; readonly suggestion: string }>;

/** A range wider than the policy allows (`required`: the narrowest prefix it takes). */
export type WidthError = Err<
  'ADDRESS_TOO_WIDE',
  { readonly cidr: string; readonly prefix: number; readonly required: number; readonly family: 4 | 6 }
>;

export type CidrError = AddressError | WidthError;

/** Default narrowest-allowed prefixes (`maxPrefix`): a single host. */
export const DEFAULT_MAX_PREFIX = { 4: 32, 6: 128 } as const;

/**
 * Parses an address typed by a user (`203.0.113.7`, `203.0.113.0/28`, `2001:db8::1`, `2001:db8::/64`).
 * A bare address becomes a single-host CIDR. A CIDR with host bits set is refused with the
 * network it probably meant, because silently widening or narrowing what the user asked is wrong.
 * Only the forms a person means are accepted: dotted-quad decimal IPv4 (no `127.1`, `0x7f000001`,
 * `2130706433` or octal `010.0.0.1`, which ipaddr.js reads as other hosts), IPv6 without a zone.
 * An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) is the IPv4 host it names: as an IPv6 rule
 * it would never match the IPv4 traffic it comes from.
 */
export function parseSourceAddress(text: string): Result<SourceCidr, AddressError> {
  const input = text.trim();
  if (input.length === 0 || input.length > 64) return err('INVALID_ADDRESS', { input });
  const slash = input.indexOf('/');
  const addrText = slash === -1 ? input : input.slice(0, slash);
  const prefixText = slash === -1 ? undefined : input.slice(slash + 1);
  let addr = parseAddress(addrText);
  if (addr === undefined) return err('INVALID_ADDRESS', { input });
  const bits = addr.kind() === 'ipv4' ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return err('INVALID_ADDRESS', { input });
  let prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return err('INVALID_ADDRESS', { input });
  if (addr instanceof ipaddr.IPv6 && prefix >= 96 && addr.isIPv4MappedAddress()) {
    addr = addr.toIPv4Address();
    prefix -= 96;
  }
  const network = networkOf(addr, prefix);
  if (network.toString() !== addr.toString()) {
    return err('ADDRESS_HOST_BITS_SET', { input, suggestion: `${network.toString()}/${prefix}` });
  }
  return ok({ family: addr.kind() === 'ipv4' ? 4 : 6, cidr: `${network.toString()}/${prefix}`, prefix });
}

const DOTTED_QUAD = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/;

/** One address without prefix, in a form a person means, or `undefined`. */
function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!text.includes(':')) {
    return DOTTED_QUAD.test(text) && ipaddr.IPv4.isValid(text) ? ipaddr.IPv4.parse(text) : undefined;
  }
  // Zones (`fe80::1%eth0`) mean nothing to a security group.
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // ipaddr.js accepts `0x7f.0.0.1` here and reads `::1.2.3.4` as `::ffff:1.2.3.4`: convert the
    // dotted tail to two hex groups ourselves so the address is exactly what RFC 4291 says.
    if (!DOTTED_QUAD.test(tail) || !ipaddr.IPv4.isValid(tail)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(tail).octets;
    hex = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  return ipaddr.IPv6.isValid(hex) ? ipaddr.IPv6.parse(hex) : undefined;
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
): Result<SourceCidr, WidthError> {
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
