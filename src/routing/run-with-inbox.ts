/**
 * The durable mode of the event pipeline: datafeed batches go into the Inbox and are acknowledged as soon as
 * the append is committed; the inbox feeds the listeners, one conversation at a time per lease, oldest
 * event first, conversations in parallel up to a limit.
 *
 * Guarantees (README "Delivery"): an event acknowledged to the pod is in the inbox; each event's state
 * changes commit together with its "done" mark, so after any crash they happen exactly once; replies are
 * at-least-once (an event in flight at a crash is handled again, and may reply again); duplicates are
 * dropped at append for the dedupe window, across restarts and across instances sharing the backend; an
 * event that fails `maxAttempts` times is dead-lettered; a stuck conversation holds one slot and delays no
 * other.
 *
 * Cost per event: its share of the batch's append, then `complete`, which also reads the conversation's
 * next entry and gives the lease up after the last one; per conversation taken, `lease` and `next` (called
 * together). The leases held are renewed together. An event appended by this instance is handled from the
 * event parsed at append (kept in memory until handled, at most {@link PARSED_EVENTS_MAX}); one appended by
 * another instance, left by a previous run, or pushed out of that cache, is parsed again from its wire text.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { concatMap, defer, Observable, type Subscription } from 'rxjs';
import type { DatafeedSource } from '../datafeed/datafeed-source.ts';
import { ChorusError } from '../errors.ts';
import type { ChorusEvent } from '../events/event.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import type { Inbox, InboxEntry, InboxItem, StateChange } from '../state/inbox.ts';
import { createUnitOfWork } from '../state/unit-of-work.ts';
import type { Classified, EventOutcome, EventPipeline } from './event-pipeline.ts';

/** Events parsed at append and kept for their handling, at most (the oldest go first; they are parsed again). */
export const PARSED_EVENTS_MAX = 4_096;

/** A handled entry: its outcome and the conversation's next entry. */
type Handled = { readonly outcome: EventOutcome; readonly next: InboxEntry | undefined };

/** What {@link runWithInbox} needs. */
export type InboxRunOptions = {
  readonly pipeline: EventPipeline;
  readonly source: DatafeedSource;
  readonly inbox: Inbox;
  /** The store the inbox commits state to (read through by each event's unit of work). */
  readonly store: ConversationStore;
  readonly log: Logger;
  /** This instance's name in conversation leases. Default: a random UUID. */
  readonly owner?: string;
  /** Conversations handled at once. Default: 64. */
  readonly concurrency?: number;
  /** Attempts before an event is dead-lettered. Default: 3. */
  readonly maxAttempts?: number;
  /** Lease of a conversation, renewed every third of it while worked, ms. Default: 30_000. */
  readonly leaseMs?: number;
  /** How often conversations with queued events are looked for (left by other instances), ms. Default: 1_000. */
  readonly sweepIntervalMs?: number;
  /** Wait before attempt n + 1 of a failed event: n × this, ms. Default: 1_000. */
  readonly retryDelayMs?: number;
  /**
   * Aborting asks for an orderly stop: no further inbox event is taken, the events in flight finish, then
   * the Observable completes (what is left in the inbox is handled at the next start). Stop the source too.
   */
  readonly stopSignal?: AbortSignal;
};

/**
 * Runs the pipeline in durable mode. Unfinished inbox events (left by a crash) are handled before the first
 * datafeed read. Emits one outcome per handled, failed (dead-lettered), invalid or skipped event; completes
 * when the source completes and the local work is done. Unsubscribing stops at once (events in flight stay
 * in the inbox and are handled again later).
 *
 * @throws ChorusError (as the Observable's error) when the inbox fails, e.g. CHORUS_ERR_STATE_UNAVAILABLE.
 */
export function runWithInbox(options: InboxRunOptions): Observable<EventOutcome> {
  const { pipeline, inbox, store } = options;
  const owner = options.owner ?? randomUUID();
  const concurrency = options.concurrency ?? 64;
  const maxAttempts = options.maxAttempts ?? 3;
  const leaseMs = options.leaseMs ?? 30_000;
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  const log = options.log.child({ component: 'inbox', owner });

  return new Observable<EventOutcome>((subscriber) => {
    const active = new Map<string, { dirty: boolean }>();
    const waiting = new Set<string>(); // insertion order = FIFO
    const leased = new Set<string>(); // the leases this instance holds, renewed together
    // Events parsed at append, by dedupe key, until handled (insertion order = eviction order).
    const parsed = new Map<string, { readonly wire: string; readonly event: ChorusEvent }>();
    let idle: (() => void) | undefined;
    let sourceDone = false;
    let closed = false;
    let reading: Subscription | undefined;

    const fail = (err: unknown): void => {
      if (!closed) subscriber.error(err);
    };
    const stopping = (): boolean => options.stopSignal?.aborted === true;
    const isIdle = (): boolean => active.size === 0 && waiting.size === 0;
    const settled = (): void => {
      if (!isIdle()) return;
      idle?.();
      if (stopping() && !closed) {
        subscriber.complete();
        return;
      }
      if (!sourceDone) return;
      // A finite source is done: complete once the inbox is empty too (a conversation leased by an instance
      // that died is taken over by the sweep when its lease expires).
      inbox.conversations().then((left) => {
        if (left.length === 0 && isIdle() && !closed) subscriber.complete();
      }, fail);
    };

    /** The event of an entry: the one parsed at append when cached (same wire text), else parsed from the wire. */
    const classifyEntry = (entry: InboxEntry): Classified => {
      const cached = parsed.get(entry.dedupeKey);
      if (cached !== undefined) {
        parsed.delete(entry.dedupeKey);
        if (cached.wire === entry.wire) return { kind: 'event', event: cached.event };
      }
      return pipeline.classify(JSON.parse(entry.wire) as unknown);
    };
    const remember = (dedupeKey: string, wire: string, event: ChorusEvent): void => {
      parsed.delete(dedupeKey); // a redelivery goes to the end
      parsed.set(dedupeKey, { wire, event });
      if (parsed.size > PARSED_EVENTS_MAX) parsed.delete(parsed.keys().next().value as string);
    };

    /**
     * Completes an entry: the conversation's next entry, or undefined (the lease given up with the last one,
     * or lost). Not renewed meanwhile: a renewal landing after the lease was given up would take it again.
     */
    const complete = async (entry: InboxEntry, outcome: EventOutcome, changes: readonly StateChange[]): Promise<Handled | undefined> => {
      leased.delete(entry.conversationId);
      const completion = await inbox.complete(entry, owner, changes);
      if (!completion.completed) {
        log.warn({ conversationId: entry.conversationId, seq: entry.seq }, 'conversation lease lost: another instance has it');
        return undefined;
      }
      if (completion.next !== undefined) leased.add(entry.conversationId);
      return { outcome, next: completion.next };
    };

    /**
     * Handles one entry until it is completed or dead-lettered: its outcome and the conversation's next entry;
     * undefined when the lease was lost. `state.dirty` is cleared before the next entry is read.
     */
    const handleEntry = async (entry: InboxEntry, state: { dirty: boolean }): Promise<Handled | undefined> => {
      const classified = classifyEntry(entry);
      if (classified.kind === 'outcome') {
        state.dirty = false;
        return complete(entry, classified.outcome, []);
      }
      for (let attempt = entry.attempts + 1; ; attempt += 1) {
        const work = createUnitOfWork(store);
        const outcome = await pipeline.dispatch(classified.event, work);
        if (outcome.status === 'handled') {
          state.dirty = false;
          return complete(entry, outcome, work.changes());
        }
        const error = outcome.error ?? new ChorusError('CHORUS_ERR_LISTENER_FAILED', `event ${outcome.eventId ?? ''} failed`);
        if ((await inbox.fail(entry, { code: error.code, message: error.message }, maxAttempts)) === 'dead-lettered') {
          log.error({ eventId: outcome.eventId, conversationId: entry.conversationId, attempts: attempt }, 'event dead-lettered');
          state.dirty = false;
          return { outcome: { ...outcome, status: 'failed' }, next: await inbox.next(entry.conversationId) };
        }
        log.warn({ eventId: outcome.eventId, conversationId: entry.conversationId, attempt }, 'event failed, retrying');
        await sleep(retryDelayMs * attempt);
        if (closed) return undefined;
      }
    };

    const work = async (conversationId: string, state: { dirty: boolean }): Promise<void> => {
      state.dirty = false;
      // Called together: one round trip (or group commit); the entry read is used only under the lease.
      const [held, first] = await Promise.all([inbox.lease(conversationId, owner, leaseMs), inbox.next(conversationId)]);
      if (!held) return; // another instance works it
      leased.add(conversationId);
      try {
        for (let entry = first; entry !== undefined && !closed && !stopping(); ) {
          const handled = await handleEntry(entry, state);
          if (handled === undefined) break;
          if (!closed) subscriber.next(handled.outcome);
          entry = handled.next;
        }
      } finally {
        // Still held when the loop stopped early (or found nothing): give it up.
        if (leased.delete(conversationId)) await inbox.release(conversationId, owner);
      }
    };

    const schedule = (conversationId: string): void => {
      if (stopping()) return;
      const running = active.get(conversationId);
      if (running !== undefined) {
        running.dirty = true;
        return;
      }
      if (active.size >= concurrency) {
        waiting.add(conversationId);
        return;
      }
      const state = { dirty: false };
      active.set(conversationId, state);
      work(conversationId, state)
        .catch(fail)
        .finally(() => {
          active.delete(conversationId);
          if (state.dirty && !closed) schedule(conversationId);
          const [next] = waiting;
          if (next !== undefined && !closed) {
            waiting.delete(next);
            schedule(next);
          }
          settled();
        });
    };

    const sweep = async (): Promise<void> => {
      for (const conversationId of await inbox.conversations()) if (!active.has(conversationId)) schedule(conversationId);
    };

    /**
     * Appends a batch; resolves once its events are committed. Their conversations are scheduled as soon as
     * the append is called: a worker's first `next` is called after it, so it reads what the append commits
     * (the group commit, or the connection's command order, keeps the calls in order) and never an event
     * before it is committed. A conversation whose events were all duplicates is found empty and let go.
     */
    const append = async (events: readonly unknown[]): Promise<void> => {
      const items: InboxItem[] = [];
      const decided: EventOutcome[] = []; // own, unsupported, invalid (dead-lettered)
      const deadLettered: Promise<void>[] = [];
      for (const wire of events) {
        const classified = pipeline.classify(wire);
        if (classified.kind === 'event') {
          const { conversationId, dedupeKey } = classified.event;
          const text = JSON.stringify(wire);
          items.push({ conversationId, dedupeKey, wire: text });
          remember(dedupeKey, text, classified.event);
          continue;
        }
        const { error } = classified.outcome;
        if (error !== undefined) deadLettered.push(inbox.deadLetter(JSON.stringify(wire) ?? String(wire), error));
        decided.push(classified.outcome);
      }
      const appended = items.length === 0 ? undefined : inbox.append(items);
      for (const item of items) schedule(item.conversationId);
      await Promise.all([appended, ...deadLettered]);
      for (const outcome of decided) subscriber.next(outcome);
    };

    const sweeper = setInterval(() => void sweep().catch(fail), options.sweepIntervalMs ?? 1_000);
    const renewer = setInterval(() => {
      for (const conversationId of leased) inbox.lease(conversationId, owner, leaseMs).catch(fail);
    }, leaseMs / 3);
    const start = async (): Promise<void> => {
      const backlog = new Promise<void>((resolve) => (idle = resolve));
      await sweep();
      settled();
      await backlog; // events a crash left are handled before the first read
      idle = undefined;
      if (closed) return;
      log.info('inbox backlog done, reading the datafeed');
      reading = options.source.batches$
        .pipe(
          concatMap((batch) =>
            defer(async () => {
              await append(batch.events);
              batch.settle('ack'); // committed to the inbox: safe to acknowledge
            }),
          ),
        )
        .subscribe({
          error: fail,
          complete: () => {
            sourceDone = true;
            settled();
          },
        });
    };
    start().catch(fail);
    options.stopSignal?.addEventListener('abort', () => {
      waiting.clear();
      settled();
    });

    return () => {
      closed = true;
      clearInterval(sweeper);
      clearInterval(renewer); // a stopped instance lets its leases expire
      reading?.unsubscribe();
    };
  });
}
