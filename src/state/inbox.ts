/**
 * The Inbox port: a durable queue of events between the datafeed and the listeners, kept in the same backend
 * as the ConversationStore. Adapters: memory (tests, replay), SQLite (the embedded default), Redis (shared
 * by several instances).
 *
 * Why: a datafeed batch is acknowledged as soon as its events are appended here, so a slow listener never
 * holds the ackId past the pod's ~30 s visibility timeout (reference §1.2). The listeners' state changes of
 * an event and the mark "event done" commit together (`complete`), so after a crash each event's state
 * effects happen exactly once; replies are at-least-once (an event in flight at a crash may reply twice).
 */
import type { ErrorCode } from '../errors.ts';

/** An event to queue: its conversation (ordering and lease key), dedupe key and wire JSON text. */
export type InboxItem = { readonly conversationId: string; readonly dedupeKey: string; readonly wire: string };

/**
 * A queued event. `seq` grows with every append over the whole inbox; order within a conversation.
 * `attempts`: its handlings that ended without completing it, failed (`fail`) or never ended (counted by
 * `lease` when the conversation's lease is taken over).
 */
export type InboxEntry = InboxItem & { readonly seq: number; readonly attempts: number };

/** A state write committed with an event: the JSON `text` of the key's new value, or `undefined` to delete it. */
export type StateChange = { readonly key: string; readonly text: string | undefined };

/** Why an entry failed. */
export type InboxError = { readonly code: ErrorCode; readonly message: string };

/**
 * What `complete` did: nothing (`completed: false`), or completed the entry, `next` being the conversation's
 * oldest entry left queued, read in the same atomic step (what `next` would resolve with right after);
 * `undefined` when none is left, the lease given up then.
 */
export type InboxCompletion =
  | { readonly completed: false }
  | { readonly completed: true; readonly next: InboxEntry | undefined };

/** The completion that changed nothing. */
export const NOT_COMPLETED: InboxCompletion = Object.freeze({ completed: false });

/**
 * A dead letter: an event whose `maxAttempts` attempts failed or overran its conversation's lease, or that was
 * malformed (no conversation then, `attempts` 0).
 */
export type DeadLetterRecord = {
  readonly id: string;
  readonly conversationId: string | undefined;
  readonly dedupeKey: string | undefined;
  readonly wire: string;
  readonly attempts: number;
  readonly code: string;
  readonly error: string;
  /** Milliseconds since the epoch. */
  readonly failedAt: number;
};

/** Options every adapter takes. */
export type InboxOptions = {
  /** How long a completed event's dedupe key is remembered, ms. Default: 86_400_000 (24 h). */
  readonly dedupeWindowMs?: number;
  /** Time to live of state values written by `complete`, ms (the store's TTL). Default: 7 days. */
  readonly stateTtlMs?: number;
  /** The clock, ms since the epoch (leases, dedupe window, TTLs; the Redis adapter uses the server's). */
  readonly now?: () => number;
};

/**
 * An entry's attempts after a failed one: one more, but not past `maxAttempts`, which the takes of an overrun
 * lease (`Inbox.lease`) may have reached already (the entry is then dead-lettered with that count).
 */
export const attemptsAfterFailure = (attempts: number, maxAttempts: number): number =>
  attempts < maxAttempts ? attempts + 1 : attempts;

/** Default dedupe window: 24 h. */
export const DEFAULT_DEDUPE_WINDOW_MS = 86_400_000;

/**
 * A durable inbox. Every method is atomic on its backend. A conversation's entries are processed by the
 * holder of its lease only, oldest first; another instance takes over when the lease expires. The calls
 * made on one inbox take effect in call order, awaited or not: a `next` called after an `append` sees what
 * the append queued (and resolves only once it is durable).
 */
export type Inbox = {
  /**
   * Appends, in order and in one atomic write, the items whose dedupe key is neither done within the
   * window nor already queued (redeliveries and duplicates are dropped here). Durable once resolved.
   * Resolves with the conversations that received entries.
   */
  append(items: readonly InboxItem[]): Promise<readonly string[]>;
  /** The conversations that have queued entries. */
  conversations(): Promise<readonly string[]>;
  /**
   * Takes the lease of a conversation for `leaseMs` (ms); false while another owner holds it. A take where no
   * lease is recorded (a lease is removed with its conversation's last entry, or by `release`) counts nothing
   * and costs no extra write. A take over a record still there (one that lapsed, whoever its owner, or one of
   * this owner's own: a restart under the same name) means the conversation's last handling never ended (its
   * holder stalled past the lease, stopped or crashed while handling the oldest entry), so it counts one
   * attempt on that oldest entry, in the same atomic step, as SQS counts a receive: an event whose handling
   * never ends is dead-lettered after `maxAttempts` takes instead of blocking its conversation for ever.
   */
  lease(conversationId: string, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * Extends a lease `owner` holds (valid, or lapsed and not taken since) to `leaseMs` from now; counts
   * nothing. False when no lease is recorded or another owner's is.
   */
  renew(conversationId: string, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * Gives the lease up (only when `owner` holds it, expired or not): its next take counts nothing. A worker
   * whose handling overran the lease leaves it recorded instead, so that its next take counts the attempt.
   */
  release(conversationId: string, owner: string): Promise<void>;
  /** The oldest queued entry of a conversation. */
  next(conversationId: string): Promise<InboxEntry | undefined>;
  /**
   * In one atomic write: applies `changes` (values live `stateTtlMs`), remembers the entry's dedupe key for
   * the dedupe window, and removes the entry — only while `owner` holds the conversation's lease and the
   * entry is still queued; then reads the conversation's next entry, so a worker needs no `next` call per
   * event, and when none is left gives the lease up, so it needs no `release` call per conversation either.
   * Resolves `{ completed: false }` (having changed nothing) without the lease or the entry.
   */
  complete(entry: InboxEntry, owner: string, changes: readonly StateChange[]): Promise<InboxCompletion>;
  /**
   * Counts a failed attempt of the entry; when it reaches `maxAttempts` the entry moves to the dead letters
   * (and its dedupe key counts as done), recorded with `code`, `message` and its attempts. An entry whose
   * attempts reached `maxAttempts` already (lease overruns, counted by `lease`) is dead-lettered with that
   * count, no attempt added. Resolves with what happened ('dead-lettered' too for an entry no longer queued).
   */
  fail(entry: InboxEntry, error: InboxError, maxAttempts: number): Promise<'retry' | 'dead-lettered'>;
  /** Dead-letters a wire event that never entered the inbox (malformed). */
  deadLetter(wire: string, error: InboxError): Promise<void>;
  /** The dead letters, oldest first. */
  deadLetters(): Promise<readonly DeadLetterRecord[]>;
  /**
   * Queues a dead letter again at the end of its conversation, attempts reset, and removes it from the list.
   * Resolves false when there is no such dead letter.
   * @throws ChorusError CHORUS_ERR_STATE_VALUE for a malformed event's dead letter (it has no conversation).
   */
  retry(id: string): Promise<boolean>;
  /** Removes a dead letter; false when there is no such dead letter. */
  drop(id: string): Promise<boolean>;
  /** Releases the backend; calls after it fail. */
  close(): Promise<void>;
};
