/**
 * The in-memory Inbox adapter: for tests and replay. It keeps nothing across a restart (so it guarantees
 * nothing across crashes); within a process it behaves as the durable adapters do. A lease record stays after
 * its expiry until taken or released, so its next take counts the attempt (`lease`), synchronously within
 * the call.
 */
import { ChorusError } from '../errors.ts';
import type { ConversationStore } from './conversation-store.ts';
import {
  attemptsAfterFailure,
  DEFAULT_DEDUPE_WINDOW_MS,
  NOT_COMPLETED,
  type DeadLetterRecord,
  type Inbox,
  type InboxEntry,
  type InboxItem,
  type InboxOptions,
} from './inbox.ts';
import type { JsonValue } from './json-value.ts';

/**
 * Creates an empty inbox whose `complete` writes state into `store` (a memory store, normally).
 *
 * @example
 * const store = createMemoryStore();
 * const inbox = createMemoryInbox({ store });
 */
export function createMemoryInbox(options: InboxOptions & { readonly store: ConversationStore }): Inbox {
  const now = options.now ?? Date.now;
  const windowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
  // Per conversation with queued entries, its entries by seq (insertion order = seq order).
  const queues = new Map<string, Map<number, InboxEntry>>();
  const queued = new Set<string>();
  const done = new Map<string, number>(); // dedupe key -> expiry
  const leases = new Map<string, { owner: string; expiresAt: number }>();
  const dead = new Map<string, DeadLetterRecord>();
  let seq = 0;
  let deadSeq = 0;
  let purgedAt = 0;

  const isDone = (key: string): boolean => (done.get(key) ?? 0) > now();
  // Marks in expiry order (re-marking moves a key to the end), so a purge reads only the expired ones.
  const markDone = (key: string): void => {
    const at = now();
    done.delete(key);
    done.set(key, at + windowMs);
    if (at - purgedAt < 1_000) return;
    purgedAt = at;
    for (const [doneKey, expiresAt] of done) {
      if (expiresAt > at) break;
      done.delete(doneKey);
    }
  };
  const enqueue = (item: InboxItem): void => {
    seq += 1;
    let queue = queues.get(item.conversationId);
    if (queue === undefined) {
      queue = new Map();
      queues.set(item.conversationId, queue);
    }
    queue.set(seq, { conversationId: item.conversationId, dedupeKey: item.dedupeKey, wire: item.wire, seq, attempts: 0 });
    queued.add(item.dedupeKey);
  };
  const find = (entry: InboxEntry): InboxEntry | undefined => queues.get(entry.conversationId)?.get(entry.seq);
  const first = (conversationId: string): InboxEntry | undefined => queues.get(conversationId)?.values().next().value;
  const remove = (entry: InboxEntry): void => {
    const queue = queues.get(entry.conversationId);
    queue?.delete(entry.seq);
    if (queue?.size === 0) queues.delete(entry.conversationId);
    queued.delete(entry.dedupeKey);
  };
  const holds = (conversationId: string, owner: string): boolean => {
    const lease = leases.get(conversationId);
    return lease !== undefined && lease.owner === owner && lease.expiresAt > now();
  };

  return {
    append: async (items) => {
      const conversations = new Set<string>();
      for (const item of items) {
        if (isDone(item.dedupeKey) || queued.has(item.dedupeKey)) continue;
        enqueue(item);
        conversations.add(item.conversationId);
      }
      return [...conversations];
    },
    conversations: async () => [...queues.keys()],
    lease: async (conversationId, owner, leaseMs) => {
      const at = now();
      const lease = leases.get(conversationId);
      if (lease !== undefined && lease.owner !== owner && lease.expiresAt > at) return false;
      // Taken over: the conversation's last handling never ended (Inbox.lease), which counts an attempt.
      const overrun = lease === undefined ? undefined : first(conversationId);
      if (overrun !== undefined) queues.get(conversationId)?.set(overrun.seq, { ...overrun, attempts: overrun.attempts + 1 });
      leases.set(conversationId, { owner, expiresAt: at + leaseMs });
      return true;
    },
    renew: async (conversationId, owner, leaseMs) => {
      if (leases.get(conversationId)?.owner !== owner) return false;
      leases.set(conversationId, { owner, expiresAt: now() + leaseMs });
      return true;
    },
    release: async (conversationId, owner) => {
      if (leases.get(conversationId)?.owner === owner) leases.delete(conversationId);
    },
    next: async (conversationId) => first(conversationId),
    complete: async (entry, owner, changes) => {
      if (!holds(entry.conversationId, owner) || find(entry) === undefined) return NOT_COMPLETED;
      // All before the first await, so the calls made after this one see it done (the memory store writes
      // at call time).
      const writes = changes.map((change) =>
        change.text === undefined
          ? options.store.delete(change.key)
          : options.store.set(change.key, JSON.parse(change.text) as JsonValue),
      );
      remove(entry);
      markDone(entry.dedupeKey);
      const next = first(entry.conversationId);
      if (next === undefined) leases.delete(entry.conversationId);
      await Promise.all(writes);
      return { completed: true, next };
    },
    fail: async (entry, error, maxAttempts) => {
      const current = find(entry);
      if (current === undefined) return 'dead-lettered';
      const attempts = attemptsAfterFailure(current.attempts, maxAttempts);
      if (attempts < maxAttempts) {
        queues.get(entry.conversationId)?.set(entry.seq, { ...current, attempts });
        return 'retry';
      }
      remove(current);
      markDone(current.dedupeKey);
      deadSeq += 1;
      const id = String(deadSeq);
      dead.set(id, { id, ...current, attempts, code: error.code, error: error.message, failedAt: now() });
      return 'dead-lettered';
    },
    deadLetter: async (wire, error) => {
      deadSeq += 1;
      const id = String(deadSeq);
      const record = { id, conversationId: undefined, dedupeKey: undefined, wire, attempts: 0 };
      dead.set(id, { ...record, code: error.code, error: error.message, failedAt: now() });
    },
    deadLetters: async () => [...dead.values()],
    retry: async (id) => {
      const letter = dead.get(id);
      if (letter === undefined) return false;
      if (letter.conversationId === undefined || letter.dedupeKey === undefined) {
        throw new ChorusError('CHORUS_ERR_STATE_VALUE', `dead letter ${id} is a malformed event: it cannot be retried`);
      }
      dead.delete(id);
      done.delete(letter.dedupeKey);
      // A dedupe key queued again meanwhile (appended after its window) keeps that entry: the letter just goes.
      if (!queued.has(letter.dedupeKey)) {
        enqueue({ conversationId: letter.conversationId, dedupeKey: letter.dedupeKey, wire: letter.wire });
      }
      return true;
    },
    drop: async (id) => dead.delete(id),
    close: async () => undefined,
  };
}
