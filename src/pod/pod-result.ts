/**
 * The outcome of a pod operation: a value, or the HTTP status and message the endpoint answers with (the
 * `V2Error` body `{ code, message }` of the Agent API spec). Pod operations return outcomes instead of throwing,
 * so the HTTP routes and the in-process API (`postMessage`) share one path and map failures at their edge.
 */

/** A failed pod operation: `status` is the HTTP status, `message` the V2Error message (never a secret). */
export type PodFailure = { readonly ok: false; readonly status: number; readonly message: string };

/** A pod operation's result. */
export type PodResult<T> = { readonly ok: true; readonly value: T } | PodFailure;

/** A successful outcome holding `value`. */
export function succeed<T>(value: T): PodResult<T> {
  return { ok: true, value };
}

/** A failed outcome: the endpoint answers `status` with the V2Error `{ code: status, message }`. */
export function fail(status: number, message: string): PodFailure {
  return { ok: false, status, message };
}
