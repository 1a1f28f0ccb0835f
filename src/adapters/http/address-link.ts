import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { Logger } from '../../app/ports';
import type { HttpRoute } from './router';

/** What following a link came to, as the page says it (no secret, no more than the requester may see). */
export type LinkOutcome =
  | {
      readonly kind: 'continued';
      readonly requestId: string;
      readonly resourceId: string;
      readonly address: string;
    }
  | { readonly kind: 'refused'; readonly address: string; readonly why: string }
  | { readonly kind: 'unknown' | 'used' | 'expired' };

/**
 * Which proxies' `X-Forwarded-For` is believed (`HALLPASS_TRUSTED_PROXIES`, already validated at start).
 * IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`) are matched as the IPv4 address they are.
 */
export function trustedProxies(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', prefix] = entry.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(prefix), family);
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/** `::ffff:203.0.113.7` → `203.0.113.7`; other addresses as they are. */
export const unmapped = (address: string): string => {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m?.[1] ?? address;
};

/**
 * The address the browser comes from: the socket's peer — or, only when the peer is a trusted proxy, the
 * rightmost `X-Forwarded-For` entry that is not a trusted proxy itself (entries further left were written
 * by the client and prove nothing). `undefined` when no usable address is left.
 */
export function clientAddress(
  req: IncomingMessage,
  trusted: (address: string) => boolean,
): string | undefined {
  const peer = unmapped(req.socket.remoteAddress ?? '');
  if (isIP(peer) === 0) return undefined;
  if (!trusted(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => unmapped(h.trim()))
    .filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] ?? '';
    if (isIP(hop) === 0) return undefined;
    if (!trusted(hop)) return hop;
  }
  // Every hop a proxy of ours: the request came from inside; the nearest one is the best we know.
  return hops[0] ?? peer;
}

const escapeHtml = (t: string): string =>
  t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The small page a followed link answers with, and its status. */
export function linkPage(outcome: LinkOutcome): { status: number; title: string; text: string } {
  switch (outcome.kind) {
    case 'continued':
      return {
        status: 200,
        title: 'Request sent',
        text: `Your request ${outcome.requestId} for ${outcome.resourceId} continues from the address ${outcome.address}. Slack tells you what happens next; you can close this page.`,
      };
    case 'refused':
      return {
        status: 422,
        title: 'Request refused',
        text: `Your request was not made from the address ${outcome.address}: ${outcome.why} Slack has the details too.`,
      };
    case 'used':
      return {
        status: 410,
        title: 'Link already used',
        text: 'This link was already used. Ask again in Slack for a new one.',
      };
    case 'expired':
      return {
        status: 410,
        title: 'Link expired',
        text: 'This link has expired (links are valid for 10 minutes). Ask again in Slack for a new one.',
      };
    case 'unknown':
      return {
        status: 404,
        title: 'Unknown link',
        text: 'This link is not known. Ask again in Slack for a new one.',
      };
  }
}

/**
 * `GET /address?t=<secret>`: the one-time address link. The answer is never cached and never sent on as
 * a referrer; the page holds no secret, and neither does any log line (a failure is caught here, so the
 * router never logs this URL). Anything but one `t` of the expected shape is 404, with nothing changed.
 */
export function addressLinkRoute(deps: {
  readonly path: string;
  readonly trustedProxies: readonly string[];
  readonly logger: Logger;
  readonly follow: (secret: string, address: string) => Promise<LinkOutcome>;
}): HttpRoute {
  const trusted = trustedProxies(deps.trustedProxies);
  const answer = (res: ServerResponse, outcome: LinkOutcome): void => {
    const page = linkPage(outcome);
    res.writeHead(page.status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'",
    });
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>hallpass: ${escapeHtml(page.title)}</title></head><body><h1>${escapeHtml(page.title)}</h1><p>${escapeHtml(page.text)}</p></body></html>`,
    );
  };
  return {
    path: deps.path,
    methods: {
      GET: async (req, res) => {
        const query = new URL(req.url ?? '', 'http://x').searchParams;
        const secrets = query.getAll('t');
        const secret = secrets[0] ?? '';
        if (secrets.length !== 1 || !/^[A-Za-z0-9_-]{20,100}$/.test(secret))
          return answer(res, { kind: 'unknown' });
        const address = clientAddress(req, trusted);
        if (address === undefined) {
          return answer(res, {
            kind: 'refused',
            address: 'unknown',
            why: 'the address your browser comes from could not be read.',
          });
        }
        let outcome: LinkOutcome;
        try {
          outcome = await deps.follow(secret, address);
        } catch (error) {
          // Caught here, not by the router: its log line would carry the URL, and with it the secret.
          deps.logger.error(
            { err: error instanceof Error ? error.message : String(error), path: deps.path },
            'following an address link failed',
          );
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
          res.end('Something went wrong on hallpass’s side; ask again in Slack in a minute.');
          return;
        }
        deps.logger.info({ outcome: outcome.kind, address }, 'address link followed');
        answer(res, outcome);
      },
    },
  };
}
