/**
 * One HTTP exchange through undici's low-level `dispatcher.dispatch`, read whole: the Agent API client's
 * transport (agent-http.ts adds headers, sessions, status codes and errors on top).
 */
import type { Dispatcher } from 'undici';

/** What an exchange sends besides headers and body: method, absolute URL (query included), abort signal. */
export type ExchangeRequest = {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly url: string;
  readonly signal?: AbortSignal | undefined;
};

/** A response read whole: status, headers (lower-case names) and the body as UTF-8 text. */
export type Exchanged = { readonly status: number; readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly text: string };

/** `scheme://authority` and the rest of an absolute URL (the path, `/` when empty, with its query). */
const ORIGIN = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]+)(.*)$/i;

/**
 * One request through `dispatcher.dispatch` (undici's low-level API, stable within a major version): the body
 * is collected from the handler's chunks, without the Readable stream `request()` makes for each response,
 * which costs about as much as the rest of a small exchange. Rejects with undici's errors (and their codes) as
 * `request()` does, and with the signal's reason when `call.signal` aborts.
 */
export function exchange(dispatcher: Dispatcher, call: ExchangeRequest, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Exchanged> {
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
