/**
 * The durable mode of the event pipeline: datafeed batches go into the Inbox and are acknowledged as soon as
 * the append is committed; the inbox feeds the listeners, one conversation at a time per lease, oldest
 * event first, conversations in parallel up to a limit.
 *
 * Guarantees (README "Delivery"): an event acknowledged to the pod is in the inbox; each event's state
 * changes commit together with its "done" mark, so after any crash they happen exactly once; replies are
 * at-least-once (an event in flight at a crash is handled again, and may reply again); duplicates are
 * dropped at append for the dedupe window, across restarts and across instances sharing the backend; an
 * event is dead-lettered after `maxAttempts` attempts, each a handling that failed or that overran the lease
 * (stall, stop, crash: see Fencing), so none blocks its conversation for ever; a stuck conversation holds one
 * slot and delays no other; an instance that lost a conversation's lease sends nothing more for it.
 *
 * Fencing (lease-fence.ts): replies go through a sender that refuses them (CHORUS_ERR_LEASE_LOST) once a
 * renewal found the lease taken, or from a tenth of the lease before its local deadline (monotonic clock:
 * last successful take or renewal issued + `leaseMs`). An entry whose handling ends so is neither failed nor
 * completed but given up (warn) to the lease's holder, and this instance stops working the conversation;
 * an expired lease is not released but left to lapse. Whoever takes the lease over (a lapsed one: another
 * instance, this one at a sweep, the next start after a crash; or its own: a restart under the same owner)
 * counts an attempt (Inbox.lease); an entry whose attempts are used up is dead-lettered with
 * CHORUS_ERR_LEASE_OVERRUN before its listeners run again. Leases are renewed with Inbox.renew, which counts
 * nothing. A conversation whose oldest entry is at its last attempt (`maxAttempts` − 1 attempts counted, at
 * least 1) is a suspect, worked alone (conversation-scheduler.ts), so that no event of another conversation is
 * in flight, and counted, at the crash a suspect may cause again: an event is dead-lettered for overruns only
 * when its own last handling, alone, overran. Entries with fewer attempts counted (e.g. every conversation in
 * flight at one crash) are worked side by side as usual: a crash costs the others one attempt each, not a
 * pause while each of them is worked in turn.
 *
 * Cost per event: its share of the batch's append, then `complete`, which also reads the conversation's
 * next entry and gives the lease up after the last one; per conversation taken, `lease` and `next` (called
 * together). The leases held are renewed together. An event appended by this instance is handled from the
 * event parsed at append (inbox-wire.ts); one appended by another instance, left by a previous run,
 * or pushed out of that cache, is parsed again from its wire text.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { concatMap, defer, Observable, type Subscription } from 'rxjs';
import type { DatafeedSource } from '../datafeed/datafeed-source.ts';
import { ChorusError } from '../errors.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import type { Inbox, InboxEntry, StateChange } from '../state/inbox.ts';
import { createUnitOfWork } from '../state/unit-of-work.ts';
import type { EventOutcome, EventPipeline } from './event-pipeline.ts';
import { createConversationScheduler, type Worked } from './conversation-scheduler.ts';
import { createInboxWire } from './inbox-wire.ts';
import { createFencedSender, LeaseFence, startLeaseRenewer, toLeaseOverrun } from './lease-fence.ts';

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
  /** Lease of a conversation, renewed every third of it while worked (replies fenced by it), ms. Default: 30_000. */
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
 * in the inbox and are handled again later; their replies are refused from then on).
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
  // An entry with this many attempts counted is at its last one (or has none left): a suspect, worked alone.
  const suspectAttempts = Math.max(1, maxAttempts - 1);
  const log = options.log.child({ component: 'inbox', owner });

  return new Observable<EventOutcome>((subscriber) => {
    const leased = new Map<string, LeaseFence>(); // the leases this instance holds, renewed together
    const wire = createInboxWire(pipeline, inbox);
    let idle: (() => void) | undefined;
    let sourceDone = false;
    let closed = false;
    let reading: Subscription | undefined;

    const fail = (err: unknown): void => {
      if (!closed) subscriber.error(err);
    };
    const stopping = (): boolean => options.stopSignal?.aborted === true;
    const settled = (): void => {
      if (!scheduler.isIdle()) return;
      idle?.();
      if (stopping() && !closed) {
        subscriber.complete();
        return;
      }
      if (!sourceDone) return;
      // A finite source is done: complete once the inbox is empty too (a conversation leased by an instance
      // that died is taken over by the sweep when its lease expires).
      inbox.conversations().then((left) => {
        if (left.length === 0 && scheduler.isIdle() && !closed) subscriber.complete();
      }, fail);
    };

    /**
     * Completes an entry: the conversation's next entry, or undefined (the lease given up with the last one,
     * or lost). Not renewed meanwhile: a renewal landing after the lease was given up would take it again.
     */
    const complete = async (entry: InboxEntry, fence: LeaseFence, outcome: EventOutcome, changes: readonly StateChange[]): Promise<Handled | undefined> => {
      leased.delete(entry.conversationId);
      const completion = await inbox.complete(entry, owner, changes);
      if (!completion.completed) {
        fence.close('lost');
        log.warn({ conversationId: entry.conversationId, seq: entry.seq }, 'conversation lease lost: another instance has it');
        return undefined;
      }
      if (completion.next === undefined) fence.close('released');
      else leased.set(entry.conversationId, fence);
      return { outcome, next: completion.next };
    };

    /** Gives an entry up, neither failed nor completed, its fence being closed: the lease's holder handles it. */
    const giveUp = (entry: InboxEntry, fence: LeaseFence): undefined => {
      const fields = { conversationId: entry.conversationId, seq: entry.seq, lease: fence.state() };
      if (!closed) log.warn(fields, 'conversation lease lost while handling an event: left to the instance that holds it');
      return undefined;
    };

    /**
     * Handles one entry until it is completed or dead-lettered: its outcome and the conversation's next entry;
     * undefined when the lease was lost (its fence found closed before or after an attempt: the entry is then
     * neither failed nor completed). Replies go through a sender fenced by the lease until the entry is
     * completed, and pass after that (a listener's late reply, e.g. from a timer, duplicates nothing: no
     * other instance handles a completed event). `state.dirty` is cleared before the next read.
     */
    const handleEntry = async (entry: InboxEntry, state: Worked, fence: LeaseFence): Promise<Handled | undefined> => {
      let completed = false;
      const sender = createFencedSender(pipeline.sender, fence, () => completed);
      const classified = wire.classify(entry);
      if (classified.kind === 'outcome') {
        state.dirty = false;
        return complete(entry, fence, classified.outcome, []);
      }
      const { event } = classified;
      for (let attempt = entry.attempts + 1; ; attempt += 1) {
        if (!fence.isOpen()) return giveUp(entry, fence);
        const work = createUnitOfWork(store);
        // Attempts used up by handlings that overran the lease (counted as it was taken over): not run again.
        const outcome: EventOutcome =
          attempt <= maxAttempts ? await pipeline.dispatch(event, work, sender) : toLeaseOverrun(event, entry.conversationId, entry.attempts);
        if (!fence.isOpen()) return giveUp(entry, fence);
        if (outcome.status === 'handled') {
          state.dirty = false;
          const handled = await complete(entry, fence, outcome, work.changes());
          completed = handled !== undefined;
          return handled;
        }
        const error = outcome.error ?? new ChorusError('CHORUS_ERR_LISTENER_FAILED', `event ${outcome.eventId ?? ''} failed`);
        if ((await inbox.fail(entry, { code: error.code, message: error.message }, maxAttempts)) === 'dead-lettered') {
          const fields = { eventId: outcome.eventId, conversationId: entry.conversationId, attempts: Math.min(attempt, maxAttempts) };
          log.error({ ...fields, err: error }, 'event dead-lettered');
          state.dirty = false;
          return { outcome: { ...outcome, status: 'failed' }, next: await inbox.next(entry.conversationId) };
        }
        log.warn({ eventId: outcome.eventId, conversationId: entry.conversationId, attempt }, 'event failed, retrying');
        await sleep(retryDelayMs * attempt);
        if (closed) return undefined;
      }
    };

    const work = async (conversationId: string, state: Worked): Promise<void> => {
      state.dirty = false;
      const takenAt = performance.now(); // the lease starts no earlier than its call (LeaseFence)
      // Called together: one round trip (or group commit); the entry read is used only under the lease.
      const [held, first] = await Promise.all([inbox.lease(conversationId, owner, leaseMs), inbox.next(conversationId)]);
      if (!held) return; // another instance works it
      if (first !== undefined && first.attempts >= suspectAttempts && !scheduler.isolate(conversationId)) {
        await inbox.release(conversationId, owner); // a suspect, put aside to be worked alone: its next take counts nothing
        return;
      }
      const fence = new LeaseFence(conversationId, leaseMs, takenAt);
      state.close = () => fence.close('released');
      leased.set(conversationId, fence);
      try {
        for (let entry = first; entry !== undefined && !closed && !stopping(); ) {
          const handled = await handleEntry(entry, state, fence);
          scheduler.endIsolation(conversationId); // a suspect's entry is done: the others go on
          if (handled === undefined) break;
          if (!closed) subscriber.next(handled.outcome);
          entry = handled.next;
        }
      } finally {
        leased.delete(conversationId);
        // Maybe still ours (stopped early, found nothing): let go. Not if completed, lost or stopped; nor if
        // expired (an entry's handling overran it): left to lapse, its next take counts that attempt.
        const lease = fence.state();
        fence.close('released');
        if (lease === 'held') await inbox.release(conversationId, owner);
      }
    };

    const scheduler = createConversationScheduler({ concurrency, work, fail, settled: () => settled(), halted: () => closed || stopping() });
    const schedule = (conversationId: string): void => scheduler.schedule(conversationId);

    const sweep = async (): Promise<void> => {
      for (const conversationId of await inbox.conversations()) if (!scheduler.active.has(conversationId)) schedule(conversationId);
    };

    /**
     * Appends a batch; resolves once its events are committed. Their conversations are scheduled as soon as
     * the append is called: a worker's first `next` is called after it, so it reads what the append commits
     * (the group commit, or the connection's command order, keeps the calls in order) and never an event
     * before it is committed. A conversation whose events were all duplicates is found empty and let go.
     */
    const append = async (events: readonly unknown[]): Promise<void> => {
      const { items, decided, deadLettered } = wire.sort(events);
      const appended = items.length === 0 ? undefined : inbox.append(items);
      for (const item of items) schedule(item.conversationId);
      await Promise.all([appended, ...deadLettered]);
      for (const outcome of decided) subscriber.next(outcome);
    };

    const sweeper = setInterval(() => void sweep().catch(fail), options.sweepIntervalMs ?? 1_000);
    const stopRenewing = startLeaseRenewer({ inbox, owner, leaseMs, leased, log, fail });
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
      scheduler.clearWaiting();
      settled();
    });

    return () => {
      closed = true;
      clearInterval(sweeper);
      stopRenewing(); // a stopped instance lets its leases expire, and sends nothing more
      for (const state of scheduler.active.values()) state.close?.();
      reading?.unsubscribe();
    };
  });
}
