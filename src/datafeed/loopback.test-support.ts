/**
 * Test support for the Agent API adapters (imported only by the *.test.ts files beside it): a real node:http
 * server on 127.0.0.1 that records every request and answers through a handler, and a log capture.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { LevelWithSilent, Logger } from 'pino';
import { createLogger } from '../logger.ts';

/** A request as the server received it. */
export type Recorded = {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body parsed as JSON, `undefined` when empty or not JSON. */
  readonly json: unknown;
  /** Resolves when the client went away before the answer ended (an aborted call). */
  readonly aborted: Promise<void>;
};

/**
 * What to answer: a status with a JSON (or raw text) body and headers; `'destroy'` drops the connection
 * without an answer; `'hold'` never answers (until the server closes).
 */
export type Reply = { status: number; json?: unknown; text?: string; headers?: Record<string, string> } | 'destroy' | 'hold';

export type Loopback = {
  readonly url: string;
  readonly requests: Recorded[];
  close(): Promise<void>;
};

/** Starts a server on 127.0.0.1 (a free port) answering every request with `handle`. */
export async function startLoopback(handle: (req: Recorded) => Reply | Promise<Reply>): Promise<Loopback> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const aborted = new Promise<void>((resolve) => res.on('close', () => (res.writableFinished ? undefined : resolve())));
      const recorded: Recorded = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        json: parseJson(body),
        aborted,
      };
      requests.push(recorded);
      void Promise.resolve(handle(recorded)).then((reply) => answer(res, reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(res: ServerResponse, reply: Reply): void {
  if (res.destroyed) return;
  if (reply === 'hold') return;
  if (reply === 'destroy') {
    res.socket?.destroy();
    return;
  }
  const text = reply.text ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
  res.end(text);
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A logger at `level` (default: trace) whose JSON lines are kept for assertions. */
export function captureLog(level: LevelWithSilent = 'trace'): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const text = (): string => chunks.join('');
  return {
    log: createLogger({ destination: stream, level }),
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** A pause for the event loop to deliver I/O (no wall-clock assertion rides on it). */
export function tick(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `predicate` holds, polling every few ms; rejects after `timeoutMs` (default 5_000 ms). */
export async function until(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error('until: condition not met in time');
    await tick(5);
  }
}
