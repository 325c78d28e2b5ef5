/**
 * The one error class of chorus and the table of its codes.
 *
 * Branch on `code` (or `instanceof ChorusError`), never on message text. Every code here is documented in
 * docs/errors.md; a test keeps the two lists equal.
 */

/** Every error code chorus throws, with the kind of failure it is (see STYLE.md "Errors"). */
export const ERROR_CODES = {
  /** A wire event failed validation: not JSON, or a field chorus routes on is missing or of the wrong type. */
  CHORUS_ERR_EVENT_INVALID: 'per-event',
  /** A feed file could not be read or holds a line that is neither a V4Event nor a datafeed read response. */
  CHORUS_ERR_FEED_INVALID: 'fatal',
  /** A slash-command pattern does not follow the grammar (reported at registration, naming the pattern). */
  CHORUS_ERR_PATTERN_INVALID: 'fatal',
  /** A listener module is not a `defineListener(...)` default export, or its setup threw. */
  CHORUS_ERR_LISTENER_INVALID: 'fatal',
  /** A listener's handler threw or its pipeline errored while handling an event. */
  CHORUS_ERR_LISTENER_FAILED: 'per-event',
  /** A listener asked for the event to be delivered again (`RequeueEvent`). */
  CHORUS_ERR_REQUEUE: 'requeue',
  /** A value given to the conversation store is not JSON-serializable. */
  CHORUS_ERR_STATE_VALUE: 'per-event',
  /** A conversation store could not be opened: its SQLite file or folder, or its Redis server at creation. */
  CHORUS_ERR_STATE_OPEN: 'fatal',
  /** A conversation store operation failed in its backend (Redis unreachable, SQLite I/O), or the store is closed. */
  CHORUS_ERR_STATE_UNAVAILABLE: 'per-event',
  /** A state update kept losing its compare-and-swap to other writers of the same key and gave up. */
  CHORUS_ERR_STATE_CONFLICT: 'per-event',
  /**
   * A reply was refused, not sent, because this instance no longer holds (or may no longer hold) the lease of
   * its conversation in the durable inbox; the instance that holds it handles the event.
   */
  CHORUS_ERR_LEASE_LOST: 'requeue',
  /**
   * An inbox event was dead-lettered without running its listeners: its attempts were used up by handlings
   * that overran its conversation's lease (the instance handling it stalled, stopped or crashed), each counted
   * when the lease was taken over (lapsed, or its own after a restart under the same name).
   */
  CHORUS_ERR_LEASE_OVERRUN: 'per-event',
  /** A dialog function asked differently on replay than recorded (it depends on more than its answers); the dialog was ended. */
  CHORUS_ERR_DIALOG_REPLAY: 'per-event',
  /** A dialog function called `d.ask` with unusable `choices` (empty, a blank or a duplicate). */
  CHORUS_ERR_DIALOG_INVALID: 'per-event',
  /** A reply could not be turned into MessageML. */
  CHORUS_ERR_REPLY_INVALID: 'per-event',
  /** The configuration file or environment is invalid; the message names the field and the reason. */
  CHORUS_ERR_CONFIG_INVALID: 'fatal',
  /** A command-line call is malformed (usage is printed, exit code 2). */
  CHORUS_ERR_USAGE: 'fatal',
  /** RSA authentication was refused (pod or key manager answered 401/403) or the private key is unusable. */
  CHORUS_ERR_AUTH_FAILED: 'fatal',
  /** An HTTP call failed without a response: connection refused, reset or dropped, or a timeout. */
  CHORUS_ERR_HTTP_NETWORK: 'transient',
  /** An HTTP call was throttled (429); the error carries `retryAfterMs` when the server sent `Retry-After`. */
  CHORUS_ERR_HTTP_THROTTLED: 'transient',
  /** An HTTP call failed with a server error (5xx). */
  CHORUS_ERR_HTTP_SERVER: 'transient',
  /** An HTTP call was answered 401 again after the session was re-authenticated once. */
  CHORUS_ERR_HTTP_UNAUTHORIZED: 'transient',
  /** An HTTP call was refused with a client error (4xx other than 401 and 429); not retried. */
  CHORUS_ERR_HTTP_REJECTED: 'fatal',
  /** A successful HTTP response is not JSON or lacks a field chorus relies on. */
  CHORUS_ERR_HTTP_RESPONSE_INVALID: 'fatal',
  /** The datafeed cannot go on: 403 (too many feeds, entitlement), 404, an invalid response, or retries ran out. */
  CHORUS_ERR_DATAFEED_FAILED: 'fatal',
  /** A reply was refused (400, 403, 451…) or still failed after its last attempt; it is not sent. */
  CHORUS_ERR_REPLY_FAILED: 'per-event',
  /** The embedded pod could not start: its port cannot be bound, or a key file of `keysDir` cannot be read or written. */
  CHORUS_ERR_POD_START: 'fatal',
  /** A call of the embedded pod's in-process API was refused (unknown user or stream, not a member, bad MessageML). */
  CHORUS_ERR_POD_REJECTED: 'fatal',
} as const;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The error chorus throws. `code` is stable; `message` is for people and never holds secrets.
 *
 * @example
 * throw new ChorusError('CHORUS_ERR_FEED_INVALID', 'line 3 is not JSON', { cause: err });
 */
export class ChorusError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ChorusError';
    this.code = code;
  }
}

/** True when `err` is a {@link ChorusError}, optionally with the given code. */
export function isChorusError(err: unknown, code?: ErrorCode): err is ChorusError {
  return err instanceof ChorusError && (code === undefined || err.code === code);
}

/**
 * Thrown by a listener to ask for the event to be delivered again instead of being dead-lettered.
 *
 * The datafeed then does not advance its ackId for the batch, so the pod re-queues it after its visibility
 * timeout (BDK Java `EventException` → `RequeueEventException`, reference §4.1).
 *
 * @example
 * if (!downstreamReady) throw new RequeueEvent('price service is down');
 */
export class RequeueEvent extends ChorusError {
  constructor(reason: string, options?: ErrorOptions) {
    super('CHORUS_ERR_REQUEUE', reason, options);
    this.name = 'RequeueEvent';
  }
}
