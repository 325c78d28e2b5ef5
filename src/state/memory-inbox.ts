/**
 * The in-memory Inbox adapter: for tests and replay. It keeps nothing across a restart (so it guarantees
 * nothing across crashes); within a process it behaves as the durable adapters do.
 */
import { ChorusError } from '../errors.ts';
import type { ConversationStore } from './conversation-store.ts';
import {
  DEFAULT_DEDUPE_WINDOW_MS,
  type DeadLetterRecord,
  type Inbox,
  type InboxEntry,
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
  const entries = new Map<number, InboxEntry>(); // insertion order = seq order
  const queued = new Set<string>();
  const done = new Map<string, number>(); // dedupe key -> expiry
  const leases = new Map<string, { owner: string; expiresAt: number }>();
  const dead = new Map<string, DeadLetterRecord>();
  let seq = 0;
  let deadSeq = 0;

  const isDone = (key: string): boolean => (done.get(key) ?? 0) > now();
  const remove = (entry: InboxEntry): void => {
    entries.delete(entry.seq);
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
        seq += 1;
        entries.set(seq, { ...item, seq, attempts: 0 });
        queued.add(item.dedupeKey);
        conversations.add(item.conversationId);
      }
      return [...conversations];
    },
    conversations: async () => [...new Set([...entries.values()].map((entry) => entry.conversationId))],
    lease: async (conversationId, owner, leaseMs) => {
      const lease = leases.get(conversationId);
      if (lease !== undefined && lease.owner !== owner && lease.expiresAt > now()) return false;
      leases.set(conversationId, { owner, expiresAt: now() + leaseMs });
      return true;
    },
    release: async (conversationId, owner) => {
      if (leases.get(conversationId)?.owner === owner) leases.delete(conversationId);
    },
    next: async (conversationId) => [...entries.values()].find((entry) => entry.conversationId === conversationId),
    complete: async (entry, owner, changes) => {
      if (!holds(entry.conversationId, owner) || !entries.has(entry.seq)) return false;
      for (const change of changes) {
        if (change.text === undefined) await options.store.delete(change.key);
        else await options.store.set(change.key, JSON.parse(change.text) as JsonValue);
      }
      remove(entry);
      done.set(entry.dedupeKey, now() + windowMs);
      return true;
    },
    fail: async (entry, error, maxAttempts) => {
      const current = entries.get(entry.seq);
      if (current === undefined) return 'dead-lettered';
      const attempts = current.attempts + 1;
      if (attempts < maxAttempts) {
        entries.set(entry.seq, { ...current, attempts });
        return 'retry';
      }
      remove(current);
      done.set(current.dedupeKey, now() + windowMs);
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
      seq += 1;
      entries.set(seq, { conversationId: letter.conversationId, dedupeKey: letter.dedupeKey, wire: letter.wire, seq, attempts: 0 });
      queued.add(letter.dedupeKey);
      return true;
    },
    drop: async (id) => dead.delete(id),
    close: async () => undefined,
  };
}
