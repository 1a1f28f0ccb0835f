import {
  checkWidth,
  DEFAULT_MAX_PREFIX,
  parseSourceAddress,
  type SourceCidr,
} from '../../../src/domain/cidr';

describe('parseSourceAddress', () => {
  it.each<[string, string, SourceCidr]>([
    ['a bare IPv4 address becomes a /32', '203.0.113.7', { family: 4, cidr: '203.0.113.7/32', prefix: 32 }],
    [
      'a bare IPv6 address becomes a /128',
      '2001:db8::1',
      { family: 6, cidr: '2001:db8::1/128', prefix: 128 },
    ],
    [
      'IPv6 is normalized to lowercase, compressed form',
      '2001:0DB8:0000:0000::0001',
      { family: 6, cidr: '2001:db8::1/128', prefix: 128 },
    ],
    ['an IPv4 network CIDR', '203.0.113.0/28', { family: 4, cidr: '203.0.113.0/28', prefix: 28 }],
    ['an explicit IPv4 /32', '203.0.113.7/32', { family: 4, cidr: '203.0.113.7/32', prefix: 32 }],
    ['an IPv6 network CIDR', '2001:DB8::/64', { family: 6, cidr: '2001:db8::/64', prefix: 64 }],
    [
      'surrounding whitespace is trimmed',
      '  203.0.113.7 \t',
      { family: 4, cidr: '203.0.113.7/32', prefix: 32 },
    ],
    ['0.0.0.0/0 parses (checkWidth refuses it)', '0.0.0.0/0', { family: 4, cidr: '0.0.0.0/0', prefix: 0 }],
    ['::/0 parses (checkWidth refuses it)', '::/0', { family: 6, cidr: '::/0', prefix: 0 }],
    [
      'an IPv4-mapped IPv6 address is the IPv4 host it names',
      '::ffff:203.0.113.7',
      { family: 4, cidr: '203.0.113.7/32', prefix: 32 },
    ],
    [
      'an IPv4-mapped IPv6 address in hex is the IPv4 host it names',
      '::FFFF:cb00:7107',
      { family: 4, cidr: '203.0.113.7/32', prefix: 32 },
    ],
    [
      'an IPv4-mapped IPv6 network is the IPv4 network it names',
      '::ffff:203.0.113.0/120',
      { family: 4, cidr: '203.0.113.0/24', prefix: 24 },
    ],
    [
      'the whole IPv4-mapped range is the whole IPv4 internet (so checkWidth refuses it)',
      '::ffff:0:0/96',
      { family: 4, cidr: '0.0.0.0/0', prefix: 0 },
    ],
    [
      'an embedded dotted IPv4 tail is read per RFC 4291, not as a mapped address',
      '::1.2.3.4',
      { family: 6, cidr: '::102:304/128', prefix: 128 },
    ],
    [
      'a NAT64 address with a dotted tail',
      '64:ff9b::203.0.113.7',
      { family: 6, cidr: '64:ff9b::cb00:7107/128', prefix: 128 },
    ],
  ])('accepts %s', (_name, input, expected) => {
    expect(parseSourceAddress(input)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['an IPv4 CIDR with host bits set', '203.0.113.7/24', '203.0.113.0/24'],
    ['an IPv4 /31 with host bits set', '203.0.113.7/31', '203.0.113.6/31'],
    ['an IPv6 CIDR with host bits set', '2001:db8::1/64', '2001:db8::/64'],
    ['a /0 written with a host address', '203.0.113.7/0', '0.0.0.0/0'],
  ])('refuses %s and suggests the network it probably meant', (_name, input, suggestion) => {
    const result = parseSourceAddress(input);
    expect(result).toEqual({ ok: false, error: 'ADDRESS_HOST_BITS_SET', detail: { input, suggestion } });
  });

  it.each([
    ['an empty string', ''],
    ['only whitespace', '   '],
    ['a word', 'localhost'],
    ['a hostname', 'db.example.com'],
    ['short-form IPv4 (security: reads as 127.0.0.1)', '127.1'],
    ['hexadecimal IPv4 (security: reads as 127.0.0.1)', '0x7f000001'],
    ['a 32-bit decimal IPv4 (security: reads as 127.0.0.1)', '2130706433'],
    ['octal IPv4 (security: reads as 8.0.0.1)', '010.0.0.1'],
    ['octal IPv4 in a CIDR (security: reads as 8.0.0.1)', '010.0.0.1/32'],
    ['short-form IPv4 in a CIDR', '127.1/32'],
    ['hexadecimal IPv4 in a CIDR', '0x7f000001/32'],
    ['a non-decimal IPv4 tail inside IPv6', '::ffff:0x7f.0.0.1'],
    ['a zero-padded IPv4 tail inside IPv6', '::ffff:1.2.3.04'],
    ['an octet over 255', '203.0.113.256'],
    ['three octets', '203.0.113'],
    ['five octets', '203.0.113.7.1'],
    ['an IPv4 prefix over 32', '1.2.3.4/33'],
    ['an IPv6 prefix over 128', '2001:db8::/129'],
    ['an empty prefix', '1.2.3.4/'],
    ['a signed prefix', '1.2.3.4/+32'],
    ['a negative prefix', '1.2.3.4/-1'],
    ['a space before the prefix', '1.2.3.4 /32'],
    ['a space after the slash', '1.2.3.4/ 32'],
    ['two prefixes', '1.2.3.4/32/32'],
    ['an IPv6 zone id (meaningless to a security group)', 'fe80::1%eth0'],
    ['an IPv6 zone id in a CIDR', 'fe80::%eth0/64'],
    ['a malformed IPv6 address', '2001:db8:::1'],
    ['a trailing colon', '2001:db8::1:'],
    ['absurdly long input', `${'1'.repeat(60)}.1.1.1`],
    ['a list of addresses', '1.2.3.4,5.6.7.8'],
  ])('refuses %s (%j) as INVALID_ADDRESS', (_name, input) => {
    const result = parseSourceAddress(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBe('INVALID_ADDRESS');
  });
});

describe('checkWidth', () => {
  const source = (input: string): SourceCidr => {
    const parsed = parseSourceAddress(input);
    if (!parsed.ok) throw new Error(`test setup: ${input} did not parse (${parsed.error})`);
    return parsed.value;
  };

  it.each([
    ['0.0.0.0/0 under the default', '0.0.0.0/0', DEFAULT_MAX_PREFIX],
    ['0.0.0.0/0 even when maxPrefix allows any width (security)', '0.0.0.0/0', { 4: 0, 6: 0 }],
    ['::/0 under the default', '::/0', DEFAULT_MAX_PREFIX],
    ['::/0 even when maxPrefix allows any width (security)', '::/0', { 4: 0, 6: 0 }],
    ['an IPv4 /24 under the default single-host rule', '203.0.113.0/24', DEFAULT_MAX_PREFIX],
    ['an IPv4 /24 when /25 is the widest allowed', '203.0.113.0/24', { 4: 25, 6: 128 }],
    ['an IPv4 /31 under the default', '203.0.113.6/31', DEFAULT_MAX_PREFIX],
    ['an IPv6 /64 under the default single-host rule', '2001:db8::/64', DEFAULT_MAX_PREFIX],
    ['an IPv6 /127 under the default', '2001:db8::/127', DEFAULT_MAX_PREFIX],
    ['an IPv6 /48 when /64 is the widest allowed', '2001:db8::/48', { 4: 32, 6: 64 }],
    ['the IPv4-mapped range (the whole IPv4 internet)', '::ffff:0:0/96', { 4: 0, 6: 0 }],
  ])('refuses %s', (_name, input, maxPrefix) => {
    const parsed = source(input);
    const result = checkWidth(parsed, maxPrefix);
    expect(result).toEqual({
      ok: false,
      error: 'ADDRESS_TOO_WIDE',
      detail: {
        cidr: parsed.cidr,
        prefix: parsed.prefix,
        required: parsed.family === 4 ? maxPrefix[4] : maxPrefix[6],
        family: parsed.family,
      },
    });
  });

  it.each([
    ['an IPv4 host under the default', '203.0.113.7', DEFAULT_MAX_PREFIX],
    ['an IPv6 host under the default', '2001:db8::1', DEFAULT_MAX_PREFIX],
    ['an IPv4 /24 when maxPrefix is 24', '203.0.113.0/24', { 4: 24, 6: 128 }],
    ['an IPv4 /28 when maxPrefix is 24 (narrower is fine)', '203.0.113.0/28', { 4: 24, 6: 128 }],
    ['an IPv6 /64 when maxPrefix is 64', '2001:db8::/64', { 4: 32, 6: 64 }],
    ['an IPv4 /1 when maxPrefix is 0 (only /0 is never allowed)', '128.0.0.0/1', { 4: 0, 6: 0 }],
  ])('allows %s', (_name, input, maxPrefix) => {
    const parsed = source(input);
    expect(checkWidth(parsed, maxPrefix)).toEqual({ ok: true, value: parsed });
  });

  it('applies the limit of the address family, not the other one', () => {
    const v4 = source('203.0.113.0/24');
    const v6 = source('2001:db8::/64');
    const loose4 = { 4: 24, 6: 128 };
    const loose6 = { 4: 32, 6: 64 };
    expect(checkWidth(v4, loose4).ok).toBe(true);
    expect(checkWidth(v4, loose6).ok).toBe(false);
    expect(checkWidth(v6, loose6).ok).toBe(true);
    expect(checkWidth(v6, loose4).ok).toBe(false);
  });
});
