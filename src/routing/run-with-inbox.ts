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
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { concatMap, defer, Observable, type Subscription } from 'rxjs';
import type { DatafeedSource } from '../datafeed/datafeed-source.ts';
import { ChorusError } from '../errors.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import type { Inbox, InboxEntry, InboxItem } from '../state/inbox.ts';
import { createUnitOfWork } from '../state/unit-of-work.ts';
import type { EventOutcome, EventPipeline } from './event-pipeline.ts';

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
    const renewals = new Set<ReturnType<typeof setInterval>>();
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

    /** Handles one entry until it is completed or dead-lettered; undefined when the lease was lost. */
    const handleEntry = async (entry: InboxEntry): Promise<EventOutcome | undefined> => {
      const classified = pipeline.classify(JSON.parse(entry.wire) as unknown);
      if (classified.kind === 'outcome') {
        return (await inbox.complete(entry, owner, [])) ? classified.outcome : undefined;
      }
      for (let attempt = entry.attempts + 1; ; attempt += 1) {
        const work = createUnitOfWork(store);
        const outcome = await pipeline.dispatch(classified.event, work);
        if (outcome.status === 'handled') {
          if (await inbox.complete(entry, owner, work.changes())) return outcome;
          log.warn({ conversationId: entry.conversationId, seq: entry.seq }, 'conversation lease lost: another instance has it');
          return undefined;
        }
        const error = outcome.error ?? new ChorusError('CHORUS_ERR_LISTENER_FAILED', `event ${outcome.eventId ?? ''} failed`);
        if ((await inbox.fail(entry, { code: error.code, message: error.message }, maxAttempts)) === 'dead-lettered') {
          log.error({ eventId: outcome.eventId, conversationId: entry.conversationId, attempts: attempt }, 'event dead-lettered');
          return { ...outcome, status: 'failed' };
        }
        log.warn({ eventId: outcome.eventId, conversationId: entry.conversationId, attempt }, 'event failed, retrying');
        await sleep(retryDelayMs * attempt);
        if (closed) return undefined;
      }
    };

    const work = async (conversationId: string, state: { dirty: boolean }): Promise<void> => {
      if (!(await inbox.lease(conversationId, owner, leaseMs))) return; // another instance works it
      const renewal = setInterval(() => void inbox.lease(conversationId, owner, leaseMs).catch(fail), leaseMs / 3);
      renewals.add(renewal);
      try {
        for (;;) {
          state.dirty = false;
          const entry = closed || stopping() ? undefined : await inbox.next(conversationId);
          if (entry === undefined) break;
          const outcome = await handleEntry(entry);
          if (outcome === undefined) break;
          if (!closed) subscriber.next(outcome);
        }
      } finally {
        clearInterval(renewal);
        renewals.delete(renewal);
        await inbox.release(conversationId, owner);
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

    const append = async (events: readonly unknown[]): Promise<readonly string[]> => {
      const items: InboxItem[] = [];
      for (const wire of events) {
        const classified = pipeline.classify(wire);
        if (classified.kind === 'event') {
          const { conversationId, dedupeKey } = classified.event;
          items.push({ conversationId, dedupeKey, wire: JSON.stringify(wire) });
          continue;
        }
        const { error } = classified.outcome;
        if (error !== undefined) await inbox.deadLetter(JSON.stringify(wire) ?? String(wire), error);
        subscriber.next(classified.outcome);
      }
      return items.length === 0 ? [] : inbox.append(items);
    };

    const sweeper = setInterval(() => void sweep().catch(fail), options.sweepIntervalMs ?? 1_000);
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
              const conversations = await append(batch.events);
              batch.settle('ack'); // committed to the inbox: safe to acknowledge
              for (const conversationId of conversations) schedule(conversationId);
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
      for (const renewal of renewals) clearInterval(renewal); // a stopped instance lets its leases expire
      reading?.unsubscribe();
    };
  });
}
