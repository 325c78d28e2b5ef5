/**
 * The pod's node:http server: matches a request to a route, reads its body, checks its tokens, injects the
 * drawn fault if any, and runs the handler. Unknown routes answer 404 with a V2Error.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ChorusError } from '../errors.ts';
import { FAULT_KINDS, type FaultInjector, type FaultKind } from './faults.ts';
import { errorAnswer, failureAnswer, header, readBody, writeAnswer, type RouteAnswer } from './http-io.ts';
import type { PodServices, Route, RouteRequest } from './pod-routes.ts';

/** A listening pod server. */
export type PodServer = {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops listening, aborts requests in progress (their long polls end) and closes every connection. */
  close(): Promise<void>;
};

type Matched = { route: Route; params: Record<string, string> } | 'not-found' | 'bad-path';

const ALL_FAULTS: ReadonlySet<FaultKind> = new Set(FAULT_KINDS);
const NO_CALLER_FAULTS: ReadonlySet<FaultKind> = new Set(FAULT_KINDS.filter((k) => k !== 'sessionExpiry'));

/**
 * Starts the server on `host:port` (port 0: ephemeral).
 *
 * @throws ChorusError CHORUS_ERR_POD_START when the port cannot be bound.
 */
export async function startPodServer(
  host: string,
  port: number,
  routes: readonly Route[],
  pod: PodServices,
  faults: FaultInjector,
): Promise<PodServer> {
  const log: Logger = pod.log;
  const closing = new AbortController();
  const compiled = routes.map((route) => ({ route, segments: route.path.split('/') }));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const pathname = queryAt === -1 ? target : target.slice(0, queryAt);
    const matched = match(compiled, req.method ?? 'GET', pathname);
    if (matched === 'not-found') {
      return writeAnswer(res, errorAnswer(404, `No route for ${req.method} ${pathname}`));
    }
    if (matched === 'bad-path') return writeAnswer(res, errorAnswer(400, 'The path is not valid URL encoding'));
    const { route, params } = matched;
    const body = await readBody(req, route.maxBodyBytes);
    if (!body.ok) return writeAnswer(res, failureAnswer(body));

    // Made on first use (the long poll and the slow-response fault): most requests never need one.
    let signal: AbortSignal | undefined;
    const signalOf = (): AbortSignal => {
      if (signal === undefined) {
        // A listener removed when the response closes, not AbortSignal.any: its WeakRefs to both signals
        // survive scavenges, so each long poll promoted garbage to the old generation (measured: 1.8 MB per
        // scavenge at 1k requests/s in a plain node:http server, none with this listener).
        const left = new AbortController();
        const onClosing = (): void => left.abort();
        if (closing.signal.aborted) left.abort();
        else closing.signal.addEventListener('abort', onClosing, { once: true });
        res.once('close', () => {
          closing.signal.removeEventListener('abort', onClosing);
          if (!res.writableFinished) left.abort(); // the client left before the answer
        });
        signal = left.signal;
      }
      return signal;
    };
    const query = new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1));
    const request: RouteRequest = { req, params, query, body: body.value, signal: signalOf };

    const caller =
      route.auth === 'none'
        ? undefined
        : pod.sessions.check(header(req, 'sessionToken'), header(req, 'keyManagerToken'), route.auth === 'session+km');
    if (caller !== undefined && !caller.ok) return writeAnswer(res, failureAnswer(caller));

    const applicable = caller === undefined ? NO_CALLER_FAULTS : ALL_FAULTS;
    const fault = faults.draw(route.area, route.readsFeed === true ? applicable : without(applicable, 'feedExpiry'));
    if (fault !== undefined) {
      log.debug({ fault, route: route.path }, 'pod fault injected');
      const plan = faults.plan();
      switch (fault) {
        case 'serverError':
          return writeAnswer(res, errorAnswer(500, 'Injected server error'));
        case 'tooManyRequests':
          return writeAnswer(
            res,
            errorAnswer(429, 'Too many requests', { 'retry-after': String(plan.retryAfterSeconds) }),
          );
        case 'sessionExpiry':
          if (caller?.ok === true) pod.sessions.expire(caller.value);
          return writeAnswer(res, errorAnswer(401, 'Invalid session'));
        case 'feedExpiry':
          if (caller?.ok === true) pod.feeds.expire(caller.value.userId, params['datafeedId'] ?? '');
          return writeAnswer(res, errorAnswer(400, 'The datafeed does not exist: it has expired; create a new one'));
        case 'dropConnection':
          req.socket.destroy();
          return;
        case 'slowResponse':
          try {
            await delay(plan.slowResponseMs, undefined, { signal: signalOf() });
          } catch {
            return; // the client left or the pod closed
          }
          break;
      }
    }

    let answer: RouteAnswer;
    if (route.auth === 'none') answer = await route.handle(request);
    else if (caller?.ok === true) answer = await route.handle(request, caller.value);
    else answer = errorAnswer(401, 'Invalid session');
    log.debug({ method: route.method, route: route.path, status: answer.status }, 'pod request');
    writeAnswer(res, answer);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, route: req.url?.split('?')[0] }, 'pod request failed');
      writeAnswer(res, errorAnswer(500, 'Internal error of the embedded pod'));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(new ChorusError('CHORUS_ERR_POD_START', `embedded pod: cannot listen on ${host}:${port}`, { cause: err }));
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;

  return {
    url: `http://${host}:${boundPort}`,
    async close() {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function without(kinds: ReadonlySet<FaultKind>, kind: FaultKind): ReadonlySet<FaultKind> {
  const copy = new Set(kinds);
  copy.delete(kind);
  return copy;
}

/** Finds the route of `method` + `path` (routes with their paths split at `/`); parameters are URL-decoded. */
function match(routes: readonly { readonly route: Route; readonly segments: readonly string[] }[], method: string, path: string): Matched {
  const segments = path.split('/');
  for (const { route, segments: pattern } of routes) {
    if (route.method !== method || pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let matches = true;
    for (let i = 0; i < pattern.length && matches; i++) {
      const expected = pattern[i] as string;
      const actual = segments[i] as string;
      if (expected.startsWith(':')) {
        if (actual === '') matches = false;
        else {
          try {
            params[expected.slice(1)] = decodeURIComponent(actual);
          } catch {
            return 'bad-path';
          }
        }
      } else if (expected !== actual) matches = false;
    }
    if (matches) return { route, params };
  }
  return 'not-found';
}
