/**
 * Reading requests and writing responses for the pod's node:http server: bounded bodies, JSON bodies checked
 * with zod, and JSON / `V2Error` (`{ code, message }`, SPEC components.schemas.V2Error) answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { fail, succeed, type PodResult } from './pod-result.ts';

/** What a route answers: a status with a JSON value, pre-serialized JSON, or nothing (204). */
export type RouteAnswer = {
  readonly status: number;
  readonly body?: unknown;
  /** JSON text sent as is (a datafeed read assembles its events from serialized V4Events). */
  readonly json?: string;
  readonly headers?: Readonly<Record<string, string>>;
};

/** A `V2Error` answer. */
export function errorAnswer(status: number, message: string, headers?: Readonly<Record<string, string>>): RouteAnswer {
  return { status, body: { code: status, message }, ...(headers === undefined ? {} : { headers }) };
}

/** The answer of a failed pod operation. */
export function failureAnswer(failure: { readonly status: number; readonly message: string }): RouteAnswer {
  return errorAnswer(failure.status, failure.message);
}

/**
 * Reads the whole body of `req`, at most `maxBytes` bytes.
 *
 * @returns the body, or 400 when it is larger than `maxBytes` (the rest is read and dropped).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<PodResult<Buffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData).off('end', onEnd).off('close', onClose);
        req.resume(); // the rest is read and dropped, so the connection can answer
        resolve(fail(400, `The request body is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    // The error listener stays: a settled promise ignores it, and an 'error' with none would throw.
    const onEnd = (): void => {
      req.off('close', onClose);
      resolve(succeed(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    };
    // A client gone before the end of its body: no 'end' comes (as the stream's async iterator, reject).
    function onClose(): void {
      reject(Object.assign(new Error('the client closed the request before its body ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    }
    req.on('data', onData).once('end', onEnd).on('error', reject).once('close', onClose);
  });
}

/**
 * Parses an optional JSON body with `schema`: an empty body is `{}`. 400 when the body is not JSON or does not
 * match, naming the field (`ackId: Invalid input: expected string, received number`).
 */
export function parseJsonBody<S extends z.ZodType>(body: Buffer, schema: S): PodResult<z.output<S>> {
  let value: unknown = {};
  if (body.length > 0) {
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return fail(400, 'The request body is not JSON');
    }
  }
  return parseWith(schema, value, 'body');
}

/** Validates `value` with `schema`; 400 naming the first bad field (or `whole` for the value itself). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, whole: string): PodResult<z.output<S>> {
  const result = schema.safeParse(value);
  if (result.success) return succeed(result.data);
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? whole : issue.path.join('.');
  return fail(400, `${field}: ${issue?.message ?? 'invalid'}`);
}

/** Writes `answer` (JSON with `content-type: application/json`, or an empty 204). */
export function writeAnswer(res: ServerResponse, answer: RouteAnswer): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...answer.headers };
  if (answer.status === 204) {
    res.writeHead(204, headers).end();
    return;
  }
  const text = answer.json ?? JSON.stringify(answer.body ?? null);
  headers['content-type'] = 'application/json';
  headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(answer.status, headers).end(text);
}

/** The value of a single-valued request header (node lower-cases names: `sessiontoken`). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
