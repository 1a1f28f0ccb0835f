import type { IncomingMessage } from 'node:http';
import { clientAddress, trustedProxies, unmapped } from '../../../src/adapters/http/address-link';

/** A request as the handler sees it: the socket's peer and the headers. */
const req = (peer: string, forwardedFor?: string): IncomingMessage =>
  ({
    socket: { remoteAddress: peer },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  }) as unknown as IncomingMessage;

describe('the address a link is followed from', () => {
  const trusted = trustedProxies(['10.0.0.0/8', '2001:db8::1']);

  it.each([
    ['a peer that is not a proxy, whatever it claims', req('203.0.113.7', '198.51.100.1'), '203.0.113.7'],
    ['an IPv4-mapped IPv6 peer, as IPv4', req('::ffff:203.0.113.7'), '203.0.113.7'],
    ['an IPv6 peer', req('2001:db8::7'), '2001:db8::7'],
    [
      'a trusted proxy: the rightmost entry not a proxy',
      req('10.1.2.3', '192.0.2.66, 198.51.100.9, 10.9.9.9'),
      '198.51.100.9',
    ],
    ['a mapped trusted proxy', req('::ffff:10.1.2.3', '198.51.100.9'), '198.51.100.9'],
    ['an IPv6 trusted proxy', req('2001:db8::1', '2001:db8:ffff::5'), '2001:db8:ffff::5'],
    ['a trusted proxy that forwarded nothing: itself', req('10.1.2.3'), '10.1.2.3'],
  ])('%s', (_name, r, expected) => {
    expect(clientAddress(r, trusted)).toBe(expected);
  });

  it('gives up on a forwarded entry that is not an address', () => {
    expect(clientAddress(req('10.1.2.3', 'unknown'), trusted)).toBeUndefined();
  });

  it('trusts no one by default', () => {
    expect(clientAddress(req('10.1.2.3', '198.51.100.9'), trustedProxies([]))).toBe('10.1.2.3');
  });

  it('unmaps only IPv4-mapped addresses', () => {
    expect(unmapped('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(unmapped('::1')).toBe('::1');
  });
});
