/**
 * A recording HTTP proxy on 127.0.0.1 for conformance tests: it forwards each request (method, path and query,
 * headers, body) to a target server, returns the target's response unchanged, and records both sides as bytes,
 * so that a validator sees exactly what went over the wire.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';

/** One request as the client sent it, and the target's response when one was passed back. */
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
  response?: { readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: Buffer };
};

/** A running proxy. */
export type RecordingProxy = {
  /** `http://127.0.0.1:<port>`: use it as the pod, key manager and agent URL of the client under test. */
  readonly url: string;
  /** Every exchange so far, in order of arrival; responses are filled in as they come back. */
  readonly exchanges: readonly Exchange[];
  /**
   * Called with each complete exchange after the target answered and before the answer is passed back (tests
   * use it to turn injected faults off after the first one).
   */
  onResponse: ((exchange: Exchange) => void) | undefined;
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
      out.on('response', (answer) => {
        void readAll(answer).then(
          (answerBody) => {
            exchange.response = { status: answer.statusCode ?? 0, headers: answer.headers, body: answerBody };
            proxy.onResponse?.(exchange);
            res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers, answerBody.length)).end(answerBody);
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
    onResponse: undefined,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      upstream.destroy();
      await closed;
    },
  };
  return proxy;
}
