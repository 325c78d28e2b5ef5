/**
 * The daemon's HTTP side door on 127.0.0.1: `GET /healthz` and `GET /metrics`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

// Not `import { createServer } from 'node:http'`: an ES import of node:http evaluates all its exports,
// including the lazy WebSocket, CloseEvent and MessageEvent getters, which load Node's bundled undici (1 to
// 4 MB of the daemon's idle RSS, measured). getBuiltinModule returns the CommonJS exports untouched.
const { createServer } = process.getBuiltinModule('node:http');

/** What `/healthz` reports. */
export type Health = { readonly ok: boolean; readonly reason: string; readonly lastReadAgoMs: number | null };

/**
 * Health from the time of the last completed datafeed read: healthy while one completed within `maxAgeMs`
 * (default 60_000 ms). Before the first read completes (it may long-poll for 30 s on an idle feed) the daemon
 * counts as healthy for `maxAgeMs` after `startedAtMs`, reporting that it waits for it.
 */
export function toHealth(lastReadAtMs: number | undefined, startedAtMs: number, nowMs: number, maxAgeMs = 60_000): Health {
  if (lastReadAtMs === undefined) {
    const ago = nowMs - startedAtMs;
    return ago <= maxAgeMs
      ? { ok: true, reason: 'started; waiting for the first datafeed read', lastReadAgoMs: null }
      : { ok: false, reason: `no datafeed read completed in the ${ago} ms since start (limit ${maxAgeMs} ms)`, lastReadAgoMs: null };
  }
  const ago = nowMs - lastReadAtMs;
  return ago <= maxAgeMs
    ? { ok: true, reason: 'the datafeed was read recently', lastReadAgoMs: ago }
    : { ok: false, reason: `no datafeed read for ${ago} ms (limit ${maxAgeMs} ms)`, lastReadAgoMs: ago };
}

/**
 * Starts the server. `/healthz` answers 200 or 503 with a JSON `Health` body; `/metrics` answers the
 * registry in the Prometheus text format; anything else 404. Port 0 picks a free port.
 */
export async function startHealthServer(options: {
  readonly host: string;
  readonly port: number;
  readonly health: () => Health;
  readonly registry: Registry;
}): Promise<{ readonly url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method === 'GET' && path === '/healthz') {
      const health = options.health();
      response.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' });
      response.end(JSON.stringify(health));
    } else if (request.method === 'GET' && path === '/metrics') {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': options.registry.contentType });
          response.end(text);
        },
        () => {
          response.writeHead(500).end();
        },
      );
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
