import { type IncomingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';

/**
 * HTTP at the level a hostile client works at: any method, any request target (`//`, `/%zz`,
 * `/a/../b`, sent exactly as written), a body with or without `Content-Length`, a request cut off
 * half-way, or bytes that are not HTTP at all. Each call uses its own connection.
 */

export type RawAnswer = {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
};

export type RawRequest = {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Send the body with `Transfer-Encoding: chunked` (no `Content-Length`), in chunks of this many bytes. */
  readonly chunkBytes?: number;
};

/** Sends one request and resolves with the answer (rejects if the connection fails without one). */
export function sendRaw(port: number, r: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    const headers: Record<string, string> = { ...r.headers };
    if (body !== undefined && r.chunkBytes === undefined) headers['Content-Length'] = String(body.length);
    const req = request(
      { host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body === undefined) {
      req.end();
      return;
    }
    if (r.chunkBytes === undefined) {
      req.end(body);
      return;
    }
    for (let at = 0; at < body.length; at += r.chunkBytes) req.write(body.subarray(at, at + r.chunkBytes));
    req.end();
  });
}

/**
 * Writes `bytes` on a fresh TCP connection, then resolves with everything the server wrote back
 * until it closed the connection (or `waitMs` passed).
 */
export function sendBytes(port: number, bytes: string | Buffer, waitMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ECONNRESET') reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

/**
 * Sends the headers of a request announcing `announcedBytes` of body, then half of them, then cuts
 * the connection. Resolves once the connection is closed.
 */
export function sendAborted(port: number, path: string, announcedBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${announcedBytes}\r\n\r\n`,
      );
      socket.write('x'.repeat(Math.floor(announcedBytes / 2)), () => setTimeout(() => socket.destroy(), 50));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

/** A request whose body is still on its way (see `sendHalf`). */
export type HalfSent = {
  /** Sends the rest of the body; resolves with the status line the server answers with. */
  finish(): Promise<string>;
};

/**
 * Sends the headers of a POST announcing `announcedBytes` of body and half of them, and resolves once
 * they are written: the server has a request in hand that it cannot answer yet.
 */
export function sendHalf(port: number, path: string, announcedBytes: number): Promise<HalfSent> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const half = Math.floor(announcedBytes / 2);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    const answered = new Promise<string>((done) =>
      socket.on('close', () => done(Buffer.concat(chunks).toString('latin1').split('\r\n')[0] ?? '')),
    );
    socket.on('connect', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${announcedBytes}\r\n\r\n`,
      );
      socket.write('x'.repeat(half), () =>
        resolve({
          finish: () => {
            socket.write('x'.repeat(announcedBytes - half));
            return answered;
          },
        }),
      );
    });
  });
}
