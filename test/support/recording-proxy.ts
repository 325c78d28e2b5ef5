/**
 * A recording HTTP proxy on 127.0.0.1 for the tests: it forwards each request (method, path and query,
 * headers, body) to a target server, returns the target's response unchanged, and records both sides as bytes,
 * so that a test sees exactly what went over the wire: the conformance validator, the secrets that must never
 * reach a log, the headers and bodies the daemon sends. A hook may answer a request itself (a refused login).
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';

/** A response: the target's, or one a test's `onRequest` gave. */
export type RecordedResponse = { readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: Buffer };

/** One request as the client sent it, and the response when one was passed back. */
export type Exchange = {
  /** Order of arrival at the proxy, from 0. */
  readonly seq: number;
  readonly method: string;
  /** Path and query, as sent (`/agent/v4/stream/desk/message?since=0`). */
  readonly url: string;
  /** Header names lower-cased by node:http. */
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Undefined when the client left (an aborted long poll) or the target dropped the connection. */
  response?: RecordedResponse;
};

/** A running proxy. */
export type RecordingProxy = {
  /** `http://127.0.0.1:<port>`: use it as the pod, key manager and agent URL of the client under test. */
  readonly url: string;
  /** Every exchange so far, in order of arrival; responses are filled in as they come back. */
  readonly exchanges: readonly Exchange[];
  /**
   * Called with each request before it is forwarded: a response returned is sent to the client instead (and
   * recorded), undefined forwards the request.
   */
  onRequest: ((exchange: Exchange) => RecordedResponse | undefined) | undefined;
  /**
   * Called with each complete exchange after the target answered and before the answer is passed back (tests
   * use it to turn injected faults off after the first one).
   */
  onResponse: ((exchange: Exchange) => void) | undefined;
  /**
   * Every distinct secret seen so far: the session and key manager tokens of the requests (headers
   * `sessionToken`, `keyManagerToken`), and the `token` of the authenticate calls' bodies and answers (the
   * RS512 JWTs clients send, the tokens the pod gives).
   */
  secrets(): ReadonlySet<string>;
  /** Stops listening and closes every connection, on both sides. */
  close(): Promise<void>;
};

/** Headers that describe one hop (RFC 9110 §7.6.1) and are not forwarded as they are. */
const HOP_HEADERS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function forwardable(headers: IncomingHttpHeaders, bodyLength: number): IncomingHttpHeaders {
  const copy: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_HEADERS.has(name)) copy[name] = value;
  // The whole body was read, so it goes on with its length whatever framing the client used.
  if (bodyLength > 0 || headers['content-length'] !== undefined) copy['content-length'] = String(bodyLength);
  return copy;
}

function tokenOf(body: Buffer | undefined): string | undefined {
  try {
    const value = JSON.parse(body?.toString('utf8') ?? '') as { token?: unknown };
    return typeof value.token === 'string' ? value.token : undefined;
  } catch {
    return undefined;
  }
}

function secretsOf(exchanges: readonly Exchange[]): Set<string> {
  const secrets = new Set<string>();
  const add = (value: unknown): void => {
    if (typeof value === 'string' && value !== '') secrets.add(value);
  };
  for (const exchange of exchanges) {
    [exchange.headers['sessiontoken'], exchange.headers['keymanagertoken']].flat().forEach(add);
    if (exchange.url.endsWith('/pubkey/authenticate')) {
      add(tokenOf(exchange.body));
      add(tokenOf(exchange.response?.body));
    }
  }
  return secrets;
}

/**
 * Starts a proxy in front of `targetUrl` (an `http://` origin) on an ephemeral loopback port.
 *
 * @example
 * const proxy = await startRecordingProxy(pod.url);
 * const session = createSymphonySession({ podUrl: proxy.url, keyManagerUrl: proxy.url, ... });
 */
export async function startRecordingProxy(targetUrl: string): Promise<RecordingProxy> {
  const target = new URL(targetUrl);
  const upstream = new Agent({ keepAlive: true });
  const exchanges: Exchange[] = [];

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const exchange: Exchange = {
        seq: exchanges.length,
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body,
      };
      exchanges.push(exchange);
      const answer = proxy.onRequest?.(exchange);
      if (answer !== undefined) {
        exchange.response = answer;
        res.writeHead(answer.status, forwardable(answer.headers, answer.body.length)).end(answer.body);
        return;
      }
      const out = httpRequest({
        agent: upstream,
        host: target.hostname,
        port: target.port,
        method: exchange.method,
        path: exchange.url,
        headers: forwardable(req.headers, body.length),
      });
      // The client gave up (e.g. an aborted long poll): so does the proxy.
      res.on('close', () => {
        if (!res.writableFinished) out.destroy();
      });
      out.on('error', () => res.destroy());
      out.on('response', (response) => {
        void readAll(response).then(
          (responseBody) => {
            exchange.response = { status: response.statusCode ?? 0, headers: response.headers, body: responseBody };
            proxy.onResponse?.(exchange);
            res.writeHead(response.statusCode ?? 502, forwardable(response.headers, responseBody.length)).end(responseBody);
          },
          () => res.destroy(),
        );
      });
      out.end(body);
    })().catch(() => res.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('recording proxy: no port');

  const proxy: RecordingProxy = {
    url: `http://127.0.0.1:${address.port}`,
    exchanges,
    onRequest: undefined,
    onResponse: undefined,
    secrets: () => secretsOf(exchanges),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      upstream.destroy();
      await closed;
    },
  };
  return proxy;
}
