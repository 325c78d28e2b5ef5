/**
 * The HTTP layer of the Agent API adapters: JSON (or multipart) requests over undici with the session
 * headers, JSON responses validated with zod, and failures mapped to ChorusError codes.
 *
 * Status → code: 2xx success; 401 CHORUS_ERR_HTTP_UNAUTHORIZED (after one re-authentication, see
 * {@link AgentHttp.request}); 429 CHORUS_ERR_HTTP_THROTTLED (+ `retryAfterMs`); 5xx CHORUS_ERR_HTTP_SERVER;
 * any other status CHORUS_ERR_HTTP_REJECTED; no response (refused, reset, dropped, timeouts)
 * CHORUS_ERR_HTTP_NETWORK. The three transient ones are retried by the callers, not here.
 *
 * Every request carries a fresh `X-Trace-Id` (6 alphanumerics, see `createTraceId`), which Symphony prints in
 * its server logs (reference §3.3; BDK Java sends it too). A failed call names it in its HttpError (`traceId`,
 * and the message: `GET /agent/v5/datafeeds (X-Trace-Id q3ZfK8): HTTP 503`) so it can be quoted to support.
 */
import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { z } from 'zod';
import { ChorusError, type ErrorCode } from '../errors.ts';
import { toMultipartBody } from './multipart-form.ts';
import { toRetryAfterMs } from './retry-after.ts';
import { createTraceId } from './trace-id.ts';
import { exchange } from './undici-exchange.ts';

/**
 * The tokens of an authenticated Symphony session (reference §3.4): the pod's session token, and the key
 * manager's token, undefined when the pod and the Agent offer Simplified Key Delivery (SKD: no key manager
 * authentication, Agent API calls carry the session token only).
 */
export type SessionTokens = { readonly sessionToken: string; readonly keyManagerToken: string | undefined };

/**
 * What the HTTP layer needs of a session: the current tokens, and a way to replace tokens a server refused
 * (`refresh(stale)` resolves with tokens other than `stale`). Implemented by `createSymphonySession`.
 */
export type AuthSession = {
  tokens(): Promise<SessionTokens>;
  refresh(stale: SessionTokens): Promise<SessionTokens>;
};

/**
 * A failed HTTP call: `status` when a response arrived, `retryAfterMs` for a 429 that sent `Retry-After`,
 * `traceId` the `X-Trace-Id` the request was sent with (also in the message; pino's error serializer logs it
 * as `err.traceId`). Quote it to Symphony support to find the call in their logs.
 */
export class HttpError extends ChorusError {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly traceId: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: { status?: number; retryAfterMs?: number | undefined; traceId?: string; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.name = 'HttpError';
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.traceId = details.traceId;
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
  /** Where the 401 recovery is logged (info, with status, method, path and the refused call's traceId; never a token). */
  readonly log?: Logger;
};

/** Sends HTTP calls over a shared undici `Agent` (one connection pool per origin). */
export type AgentHttp = {
  /**
   * Sends `call` and resolves with the response body parsed as JSON and validated by `schema` (an empty
   * body parses as `undefined`); without a schema the body is read and dropped. With a `session`, a 401
   * makes the session re-authenticate (`refresh` with the tokens the call used) and the call is sent once
   * more (reference §3.4: "keep using the same token until you receive a HTTP 401"), with a new
   * `X-Trace-Id`: each request sent has its own.
   *
   * @throws HttpError with the codes of the module comment; CHORUS_ERR_HTTP_RESPONSE_INVALID when a 2xx
   *   body is not JSON or fails `schema`; whatever `session` throws (e.g. CHORUS_ERR_AUTH_FAILED).
   */
  request<T>(call: HttpCall & { readonly schema: z.ZodType<T> }): Promise<T>;
  request(call: HttpCall): Promise<void>;
  /** Closes the pooled connections; calls after this fail with CHORUS_ERR_HTTP_NETWORK. */
  close(): Promise<void>;
};

/** How a re-authentication after a 401 went: `ok` (new tokens, the call is sent again) or `failed` (it threw). */
export type ReauthenticationOutcome = 'ok' | 'failed';

/** Options of {@link createAgentHttp}. */
export type AgentHttpOptions = {
  /** Time allowed to open a connection (TCP + TLS). Default: 10_000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * Told of every call refused with 401 that made its session re-authenticate, once the re-authentication
   * settled (see {@link AgentHttp.request}). Several calls refused together share one authentication
   * (`createSymphonySession` is single flight) but are each reported. For metrics: called synchronously on
   * the request path, it must be cheap and must not throw. Default: none.
   */
  readonly onReauthentication?: (outcome: ReauthenticationOutcome) => void;
};

/** undici error codes of calls that are wrong, not unlucky: rethrown as they are, never retried. */
const PROGRAMMING_ERRORS: ReadonlySet<string> = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_URL']);

/**
 * Creates the HTTP layer. Connections are kept alive and shared by every call to the same origin. Every
 * request carries the headers `accept: application/json`, `X-Trace-Id` (fresh per request), the session's
 * tokens when the call has a session, and `content-type` when it has a body.
 *
 * @example
 * const http = createAgentHttp({ onReauthentication: (outcome) => reauthentications.inc({ outcome }) });
 * const feeds = await http.request({ method: 'GET', url: `${agentUrl}/agent/v5/datafeeds`, session, schema });
 */
export function createAgentHttp(options: AgentHttpOptions = {}): AgentHttp {
  const dispatcher = new Agent({ connect: { timeout: options.connectTimeoutMs ?? 10_000 } });

  const { onReauthentication } = options;

  async function once(call: HttpCall, tokens: SessionTokens | undefined, schema: z.ZodType | undefined) {
    const traceId = createTraceId();
    const headers: Record<string, string> = { accept: 'application/json', 'X-Trace-Id': traceId };
    if (tokens !== undefined) {
      headers['sessionToken'] = tokens.sessionToken;
      if (call.withKeyManagerToken !== false && tokens.keyManagerToken !== undefined) headers['keyManagerToken'] = tokens.keyManagerToken;
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
    // For failures only: parses the URL.
    const where = (): string => `${call.method} ${pathOf(call.url)} (X-Trace-Id ${traceId})`;
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
      throw new HttpError('CHORUS_ERR_HTTP_NETWORK', `${where()}: no response (${codeOf(err)})`, { traceId, cause: err });
    }

    if (status >= 200 && status < 300) {
      if (schema === undefined) return undefined;
      let value: unknown;
      try {
        value = text.trim() === '' ? undefined : JSON.parse(text);
      } catch (err) {
        throw new HttpError('CHORUS_ERR_HTTP_RESPONSE_INVALID', `${where()}: HTTP ${status} body is not JSON`, {
          status,
          traceId,
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
          { status, traceId, cause: parsed.error },
        );
      }
      return parsed.data;
    }

    const reason = serverMessage(text);
    const message = `${where()}: HTTP ${status}${reason === undefined ? '' : ` (${reason})`}`;
    if (status === 401) throw new HttpError('CHORUS_ERR_HTTP_UNAUTHORIZED', message, { status, traceId });
    if (status === 429) {
      throw new HttpError('CHORUS_ERR_HTTP_THROTTLED', message, { status, traceId, retryAfterMs: toRetryAfterMs(retryAfter) });
    }
    if (status >= 500) throw new HttpError('CHORUS_ERR_HTTP_SERVER', message, { status, traceId });
    throw new HttpError('CHORUS_ERR_HTTP_REJECTED', message, { status, traceId });
  }

  async function send(call: HttpCall & { readonly schema?: z.ZodType }): Promise<unknown> {
    const { session, schema } = call;
    if (session === undefined) return once(call, undefined, schema);
    const tokens = await session.tokens();
    try {
      return await once(call, tokens, schema);
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 401)) throw err;
      call.log?.info({ status: 401, method: call.method, path: pathOf(call.url), traceId: err.traceId }, 'session refused, re-authenticating');
      let fresh: SessionTokens;
      try {
        fresh = await session.refresh(tokens);
      } catch (refreshErr) {
        onReauthentication?.('failed');
        throw refreshErr;
      }
      onReauthentication?.('ok');
      return once(call, fresh, schema);
    }
  }

  return {
    request: send as AgentHttp['request'],
    close: () => dispatcher.close(),
  };
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
