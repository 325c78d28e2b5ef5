/**
 * The HTTP layer of the Agent API adapters: JSON (or multipart) requests over undici with the session
 * headers, JSON responses validated with zod, and failures mapped to ChorusError codes.
 *
 * Status → code: 2xx success; 401 CHORUS_ERR_HTTP_UNAUTHORIZED (after one re-authentication, see
 * {@link AgentHttp.request}); 429 CHORUS_ERR_HTTP_THROTTLED (+ `retryAfterMs`); 5xx CHORUS_ERR_HTTP_SERVER;
 * any other status CHORUS_ERR_HTTP_REJECTED; no response (refused, reset, dropped, timeouts)
 * CHORUS_ERR_HTTP_NETWORK. The three transient ones are retried by the callers, not here.
 */
import type { Logger } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { ChorusError, type ErrorCode } from '../errors.ts';
import { toMultipartBody } from './multipart-form.ts';
import { toRetryAfterMs } from './retry-after.ts';

/** The two tokens of an authenticated Symphony session (reference §3.4). */
export type SessionTokens = { readonly sessionToken: string; readonly keyManagerToken: string };

/**
 * What the HTTP layer needs of a session: the current tokens, and a way to replace tokens a server refused
 * (`refresh(stale)` resolves with tokens other than `stale`). Implemented by `createSymphonySession`.
 */
export type AuthSession = {
  tokens(): Promise<SessionTokens>;
  refresh(stale: SessionTokens): Promise<SessionTokens>;
};

/** A failed HTTP call: `status` when a response arrived, `retryAfterMs` for a 429 that sent `Retry-After`. */
export class HttpError extends ChorusError {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: { status?: number; retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.name = 'HttpError';
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** One HTTP call. */
export type HttpCall = {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** The absolute URL, query included. */
  readonly url: string;
  /** A JSON body (sent with `content-type: application/json`). */
  readonly json?: unknown;
  /**
   * Text fields sent, in order, as a multipart/form-data body (see `toMultipartBody`); ignored when `json`
   * is given.
   */
  readonly form?: Readonly<Record<string, string>>;
  /** Adds the `sessionToken` (and `keyManagerToken`) headers and re-authenticates once on a 401. */
  readonly session?: AuthSession;
  /** Whether to send `keyManagerToken` too (Agent API calls); pod calls need only `sessionToken`. Default: true. */
  readonly withKeyManagerToken?: boolean;
  /** Time allowed for the response headers, and then between body chunks. Default: 30_000 ms. */
  readonly timeoutMs?: number;
  /** Aborts the call; the promise then rejects with the signal's reason, not a ChorusError. */
  readonly signal?: AbortSignal;
  /** Where the 401 recovery is logged (info, with status and path; never a token). */
  readonly log?: Logger;
};

/** Sends HTTP calls over a shared undici `Agent` (one connection pool per origin). */
export type AgentHttp = {
  /**
   * Sends `call` and resolves with the response body parsed as JSON and validated by `schema` (an empty
   * body parses as `undefined`); without a schema the body is read and dropped. With a `session`, a 401
   * makes the session re-authenticate (`refresh` with the tokens the call used) and the call is sent once
   * more (reference §3.4: "keep using the same token until you receive a HTTP 401").
   *
   * @throws HttpError with the codes of the module comment; CHORUS_ERR_HTTP_RESPONSE_INVALID when a 2xx
   *   body is not JSON or fails `schema`; whatever `session` throws (e.g. CHORUS_ERR_AUTH_FAILED).
   */
  request<T>(call: HttpCall & { readonly schema: z.ZodType<T> }): Promise<T>;
  request(call: HttpCall): Promise<void>;
  /** Closes the pooled connections; calls after this fail with CHORUS_ERR_HTTP_NETWORK. */
  close(): Promise<void>;
};

/** Options of {@link createAgentHttp}. */
export type AgentHttpOptions = {
  /** Time allowed to open a connection (TCP + TLS). Default: 10_000 ms. */
  readonly connectTimeoutMs?: number;
};

/** undici error codes of calls that are wrong, not unlucky: rethrown as they are, never retried. */
const PROGRAMMING_ERRORS: ReadonlySet<string> = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_URL']);

/**
 * Creates the HTTP layer. Connections are kept alive and shared by every call to the same origin.
 *
 * @example
 * const http = createAgentHttp();
 * const feeds = await http.request({ method: 'GET', url: `${agentUrl}/agent/v5/datafeeds`, session, schema });
 */
export function createAgentHttp(options: AgentHttpOptions = {}): AgentHttp {
  const dispatcher = new Agent({ connect: { timeout: options.connectTimeoutMs ?? 10_000 } });

  async function once(call: HttpCall, tokens: SessionTokens | undefined, schema: z.ZodType | undefined) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (tokens !== undefined) {
      headers['sessionToken'] = tokens.sessionToken;
      if (call.withKeyManagerToken !== false) headers['keyManagerToken'] = tokens.keyManagerToken;
    }
    let body: string | undefined;
    if (call.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(call.json);
    } else if (call.form !== undefined) {
      const multipart = toMultipartBody(Object.entries(call.form));
      headers['content-type'] = multipart.contentType;
      body = multipart.body;
    }
    const timeoutMs = call.timeoutMs ?? 30_000;
    const where = (): string => `${call.method} ${pathOf(call.url)}`; // for failures only: parses the URL
    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    try {
      const response = await exchange(dispatcher, call, headers, body, timeoutMs);
      status = response.status;
      retryAfter = response.headers['retry-after'];
      text = response.text;
    } catch (err) {
      if (call.signal?.aborted === true || PROGRAMMING_ERRORS.has(codeOf(err))) throw err;
      throw new HttpError('CHORUS_ERR_HTTP_NETWORK', `${where()}: no response (${codeOf(err)})`, { cause: err });
    }

    if (status >= 200 && status < 300) {
      if (schema === undefined) return undefined;
      let value: unknown;
      try {
        value = text.trim() === '' ? undefined : JSON.parse(text);
      } catch (err) {
        throw new HttpError('CHORUS_ERR_HTTP_RESPONSE_INVALID', `${where()}: HTTP ${status} body is not JSON`, {
          status,
          cause: err,
        });
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const at = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.');
        throw new HttpError(
          'CHORUS_ERR_HTTP_RESPONSE_INVALID',
          `${where()}: HTTP ${status} response: ${at}: ${issue?.message ?? 'invalid'}`,
          { status, cause: parsed.error },
        );
      }
      return parsed.data;
    }

    const reason = serverMessage(text);
    const message = `${where()}: HTTP ${status}${reason === undefined ? '' : ` (${reason})`}`;
    if (status === 401) throw new HttpError('CHORUS_ERR_HTTP_UNAUTHORIZED', message, { status });
    if (status === 429) {
      throw new HttpError('CHORUS_ERR_HTTP_THROTTLED', message, { status, retryAfterMs: toRetryAfterMs(retryAfter) });
    }
    if (status >= 500) throw new HttpError('CHORUS_ERR_HTTP_SERVER', message, { status });
    throw new HttpError('CHORUS_ERR_HTTP_REJECTED', message, { status });
  }

  async function send(call: HttpCall & { readonly schema?: z.ZodType }): Promise<unknown> {
    const { session, schema } = call;
    if (session === undefined) return once(call, undefined, schema);
    const tokens = await session.tokens();
    try {
      return await once(call, tokens, schema);
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 401)) throw err;
      call.log?.info({ status: 401, method: call.method, path: pathOf(call.url) }, 'session refused, re-authenticating');
      const fresh = await session.refresh(tokens);
      return once(call, fresh, schema);
    }
  }

  return {
    request: send as AgentHttp['request'],
    close: () => dispatcher.close(),
  };
}

/** A response read whole: status, headers (lower-case names) and the body as UTF-8 text. */
type Exchanged = { readonly status: number; readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly text: string };

/** `scheme://authority` and the rest of an absolute URL (the path, `/` when empty, with its query). */
const ORIGIN = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]+)(.*)$/i;

/**
 * One request through `dispatcher.dispatch` (undici's low-level API, stable within a major version): the body
 * is collected from the handler's chunks, without the Readable stream `request()` makes for each response,
 * which costs about as much as the rest of a small exchange. Rejects with undici's errors (and their codes) as
 * `request()` does, and with the signal's reason when `call.signal` aborts.
 */
function exchange(dispatcher: Dispatcher, call: HttpCall, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Exchanged> {
  const parts = ORIGIN.exec(call.url);
  if (parts === null) return Promise.reject(Object.assign(new TypeError(`Invalid URL: ${call.url}`), { code: 'ERR_INVALID_URL' }));
  const { signal } = call;
  if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = (): void => controller?.abort(signal?.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => signal?.removeEventListener('abort', onAbort);
    let status = 0;
    let responseHeaders: Exchanged['headers'] = {};
    const chunks: Buffer[] = [];
    dispatcher.dispatch(
      { origin: parts[1] as string, path: parts[2] || '/', method: call.method, headers, body: body ?? null, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
      {
        onRequestStart(started) {
          controller = started;
          if (signal?.aborted === true) started.abort(signal.reason as Error);
        },
        onResponseStart(_controller, statusCode, received) {
          status = statusCode;
          responseHeaders = received;
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          done();
          resolve({ status, headers: responseHeaders, text: chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8') });
        },
        onResponseError(_controller, err) {
          done();
          reject(err);
        },
      },
    );
  });
}

/**
 * Appends `path` (starting with `/`) to a base URL given without the API context (`https://acme.symphony.com`
 * or `https://host/prefix`), dropping the base's trailing slashes.
 */
export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}

/** The path of a URL, for messages and logs (the query may hold a tag; the host is in the config). */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** The `message` of a `V2Error` body (SPEC), shortened; undefined when the body is not one. */
function serverMessage(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    const message = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
    return typeof message === 'string' && message !== '' ? message.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

/** The `code` of a Node.js or undici error (`ECONNREFUSED`, `UND_ERR_SOCKET`…), or `unknown`. */
function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'unknown';
}
