/**
 * The event pipeline: datafeed batches in, one outcome per event out. The same pipeline serves replay, tests
 * and the daemon.
 *
 * Per event, in feed order: validate (malformed → logged, dead-lettered, the loop goes on) → drop the bot's
 * own events (BDK `isAcceptingEvent`, reference §4.1) → in the conversation's turn, drop redeliveries by
 * dedupe key → route → dispatch to every listener. Events of one conversation are handled one after another in feed order; conversations
 * run concurrently (`concatMapByKey`). A batch is settled once each of its events has an outcome.
 */
import type { Logger } from 'pino';
import { mergeMap, Observable } from 'rxjs';
import type { DatafeedBatch, DatafeedSource } from '../datafeed/datafeed-source.ts';
import { ChorusError, isChorusError } from '../errors.ts';
import type { ChorusEvent } from '../events/event.ts';
import { parseWireEvent } from '../events/parse-wire-event.ts';
import { listUnknownFields } from '../events/unknown-fields.ts';
import type { ReplySender } from '../reply/reply-sender.ts';
import { concatMapByKey } from '../rx/concat-map-by-key.ts';
import type { ConversationStore } from '../state/conversation-store.ts';
import { createDedupeWindow, type DedupeWindow } from '../state/dedupe-window.ts';
import { createCommandRouter, type CommandEntry } from './command-router.ts';
import { createBot, createBotStreams, type Registration } from './create-bot.ts';
import type { DeadLetterSink } from './dead-letters.ts';
import { dispatchEvent, type ListenerFailure } from './dispatch-event.ts';
import { createEventContext, createMessageContext, type ContextDeps } from './event-context.ts';
import { createListenerView } from './listener-view.ts';
import { registerHelp } from './help.ts';
import { defineListener, type BotIdentity, type EventContext, type ListenerModule } from './listener.ts';

/**
 * What became of one event: `handled` by every listener; `failed` (a listener threw; dead-lettered);
 * `requeued` (a listener threw `RequeueEvent`); `duplicate` (dedupe key seen); `own` (sent by the bot);
 * `invalid` (malformed; dead-lettered); `unsupported` (an event type chorus does not know; tolerated).
 */
export type EventStatus = 'handled' | 'failed' | 'requeued' | 'duplicate' | 'own' | 'invalid' | 'unsupported';

/**
 * The outcome of one event. `error` is set for `failed`, `requeued` and `invalid`; `durationMs` (from
 * dispatch to the last listener's completion, milliseconds) for `handled`, `failed` and `requeued`.
 */
export type EventOutcome = {
  readonly status: EventStatus;
  readonly eventId: string | undefined;
  readonly eventType: string | undefined;
  readonly conversationId: string | undefined;
  readonly error?: ChorusError;
  readonly durationMs?: number;
};

/** What the pipeline is made of. */
export type EventPipelineOptions = {
  readonly listeners: readonly ListenerModule[];
  readonly bot: BotIdentity;
  readonly store: ConversationStore;
  readonly sender: ReplySender;
  readonly deadLetters: DeadLetterSink;
  /** The root logger; the pipeline makes child loggers per component and event. */
  readonly log: Logger;
  /** Default: an in-memory window of 24 h. */
  readonly dedupe?: DedupeWindow;
  /** How many conversations are handled at once. Default: unlimited. */
  readonly concurrency?: number;
};

/** A wire event sorted out: an event to handle, or an outcome already decided (own, invalid, unsupported). */
export type Classified =
  | { readonly kind: 'event'; readonly event: ChorusEvent }
  | { readonly kind: 'outcome'; readonly outcome: EventOutcome };

/** A pipeline ready to run. */
export type EventPipeline = {
  /** Every registered command, in registration order (`/help` included). */
  readonly commands: readonly CommandEntry[];
  /**
   * Runs `source` through the listeners: emits one outcome per event; completes when a finite source has
   * ended and every event is done. Unsubscribing stops reading and abandons events in flight. State is
   * written straight to the store and dedupe is the in-memory window; `runWithInbox` is the durable mode.
   */
  run(source: DatafeedSource): Observable<EventOutcome>;
  /**
   * Validates a wire event and drops the bot's own. A malformed event is logged and comes back as an
   * `invalid` outcome carrying the error (the caller dead-letters it); unknown types as `unsupported`.
   */
  classify(wire: unknown): Classified;
  /** Where replies go: the options' `sender`. */
  readonly sender: ReplySender;
  /**
   * Hands a validated event to every listener, with `store` behind its state handles and `sender` (default:
   * the pipeline's; `runWithInbox` passes one fenced by the conversation's lease) behind `ctx.reply`, and
   * resolves with its outcome: `handled`, `requeued` or `failed` (failures logged with the event's context;
   * the caller dead-letters or retries). Never rejects.
   */
  dispatch(event: ChorusEvent, store: ConversationStore, sender?: ReplySender): Promise<EventOutcome>;
};

type BatchTracker = { pending: number; requeue: boolean; readonly batch: DatafeedBatch };

type Item = { readonly key: string; readonly tracker: BatchTracker; readonly wire: unknown; readonly classified: Classified };

/**
 * Loads the listeners (calling each `setup`), registers `/help`, and returns the pipeline.
 *
 * @throws ChorusError CHORUS_ERR_LISTENER_INVALID when a module is not a listener, two share a name, or a
 * `setup` throws; CHORUS_ERR_PATTERN_INVALID (prefixed with the listener's name) for a bad command pattern.
 */
export async function createEventPipeline(options: EventPipelineOptions): Promise<EventPipeline> {
  const log = options.log.child({ component: 'pipeline' });
  const dedupe = options.dedupe ?? createDedupeWindow();
  const router = createCommandRouter(options.bot.userId);
  const registrations: Registration[] = [];
  const names = new Set<string>();

  for (const candidate of options.listeners) {
    const listener = defineListener(candidate);
    if (names.has(listener.name)) {
      throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', `two listeners are named ${listener.name}`);
    }
    names.add(listener.name);
    const streams = createBotStreams((ctx) => createListenerView(ctx, listener.name));
    const bot = createBot({ listener: listener.name, identity: options.bot, streams, router, registrations });
    try {
      await listener.setup(bot);
    } catch (err) {
      const code = isChorusError(err) ? err.code : 'CHORUS_ERR_LISTENER_INVALID';
      const reason = err instanceof Error ? err.message : String(err);
      throw new ChorusError(code, `listener ${listener.name}: setup failed: ${reason}`, { cause: err });
    }
  }
  const helpStreams = createBotStreams((ctx) => createListenerView(ctx, 'chorus:help'));
  registerHelp(
    createBot({ listener: 'chorus:help', identity: options.bot, streams: helpStreams, router, registrations }),
    router.entries,
  );
  log.info({ listeners: [...names], commands: router.entries.length }, 'listeners loaded');

  const deps: Omit<ContextDeps, 'store'> = { bot: options.bot, sender: options.sender, log: options.log };
  let sequence = 0;

  const classify = (wire: unknown): Classified => {
    const decided = (outcome: EventOutcome): Classified => ({ kind: 'outcome', outcome });
    let event: ChorusEvent | null;
    try {
      event = parseWireEvent(wire);
    } catch (err) {
      const error = isChorusError(err)
        ? err
        : new ChorusError('CHORUS_ERR_EVENT_INVALID', 'wire event could not be parsed', { cause: err });
      log.error({ err: error }, 'malformed event dead-lettered');
      return decided({ status: 'invalid', eventId: undefined, eventType: undefined, conversationId: undefined, error });
    }
    const wireEvent = wire as { id?: unknown; type?: unknown };
    if (event === null) {
      log.debug({ eventId: wireEvent.id, eventType: wireEvent.type }, 'unsupported event type ignored');
      return decided({ status: 'unsupported', eventId: String(wireEvent.id), eventType: String(wireEvent.type), conversationId: undefined });
    }
    if (log.isLevelEnabled('debug')) {
      const unknownFields = listUnknownFields(wire);
      if (unknownFields.length > 0) log.debug({ eventId: event.id, unknownFields }, 'event has unknown fields');
    }
    if (event.initiator.userId === options.bot.userId) {
      return decided({ status: 'own', eventId: event.id, eventType: event.type, conversationId: event.conversationId });
    }
    return { kind: 'event', event };
  };

  const toOutcome = (event: ChorusEvent, failures: readonly ListenerFailure[], durationMs: number): EventOutcome => {
    if (failures.length === 0) {
      // The common case, built without spreading `base` (one object per event).
      return { status: 'handled', eventId: event.id, eventType: event.type, conversationId: event.conversationId, durationMs };
    }
    const base = { eventId: event.id, eventType: event.type, conversationId: event.conversationId, durationMs };
    const streamId = 'stream' in event ? event.stream?.streamId : undefined;
    const requeue = failures.find((failure) => isChorusError(failure.error, 'CHORUS_ERR_REQUEUE'));
    if (requeue !== undefined) {
      log.warn({ ...base, streamId, listener: requeue.listener, err: requeue.error }, 'listener asked for the event again');
      return { status: 'requeued', ...base, error: requeue.error as ChorusError };
    }
    for (const failure of failures) {
      const fields = { ...base, streamId, listener: failure.listener, err: failure.error };
      if (isChorusError(failure.error, 'CHORUS_ERR_LEASE_LOST')) log.warn(fields, 'listener stopped: conversation lease lost');
      else log.error(fields, 'listener failed');
    }
    const first = failures[0] as ListenerFailure;
    const listeners = failures.map((failure) => failure.listener).join(', ');
    const error = new ChorusError('CHORUS_ERR_LISTENER_FAILED', `listener ${listeners} failed on event ${event.id}`, {
      cause: first.error,
    });
    return { status: 'failed', ...base, error };
  };

  const runDeps: ContextDeps = { ...deps, store: options.store };

  /** `dispatch`, but synchronous when every listener finished synchronously (for speed: no promise then). */
  const dispatchNow = (event: ChorusEvent, store: ConversationStore, sender?: ReplySender): EventOutcome | Promise<EventOutcome> => {
    const eventDeps: ContextDeps =
      sender !== undefined ? { ...deps, store, sender } : store === options.store ? runDeps : { ...deps, store };
    const ctx: EventContext =
      event.type === 'MESSAGESENT'
        ? createMessageContext(event, eventDeps, router.route(event.message))
        : createEventContext(event, eventDeps);
    const startedAt = performance.now();
    const failures = dispatchEvent(ctx, registrations);
    if (failures instanceof Promise) return failures.then((done) => toOutcome(event, done, performance.now() - startedAt));
    return toOutcome(event, failures, performance.now() - startedAt);
  };

  // async: a throw (there should be none) becomes a rejection, as callers of a promise expect.
  const dispatch = async (event: ChorusEvent, store: ConversationStore, sender?: ReplySender): Promise<EventOutcome> =>
    dispatchNow(event, store, sender);

  const deadLetter = (wire: unknown, error: ChorusError): void => {
    options.deadLetters.put({ wire, error, failedAt: Date.now() });
  };

  const settleOne = (tracker: BatchTracker, outcome: EventOutcome): void => {
    if (outcome.status === 'requeued') tracker.requeue = true;
    tracker.pending -= 1;
    if (tracker.pending === 0) tracker.batch.settle(tracker.requeue ? 'requeue' : 'ack');
  };

  const toItem = (wire: unknown, tracker: BatchTracker): Item => {
    const classified = classify(wire);
    if (classified.kind === 'event') return { key: classified.event.conversationId, tracker, wire, classified };
    if (classified.outcome.error !== undefined) deadLetter(wire, classified.outcome.error);
    sequence += 1;
    return { key: `\u0000${sequence}`, tracker, wire, classified };
  };

  const afterDispatch = (item: Item, event: ChorusEvent, outcome: EventOutcome): EventOutcome => {
    if (outcome.status === 'requeued') dedupe.release(event.dedupeKey);
    if (outcome.status === 'failed' && outcome.error !== undefined) deadLetter(item.wire, outcome.error);
    return outcome;
  };

  /** The outcome of an item, in its conversation's turn: synchronous when every listener finished synchronously. */
  const handleNow = (item: Item): EventOutcome | Promise<EventOutcome> => {
    if (item.classified.kind === 'outcome') return item.classified.outcome;
    const event = item.classified.event;
    // Claimed in the conversation's turn, not on arrival: a redelivery that arrives while the first copy
    // is in flight waits for it, and is taken if the first copy was requeued (its batch is not acked).
    if (!dedupe.claim(event.dedupeKey)) {
      log.debug({ eventId: event.id, dedupeKey: event.dedupeKey }, 'duplicate event dropped');
      return { status: 'duplicate', eventId: event.id, eventType: event.type, conversationId: event.conversationId };
    }
    const outcome = dispatchNow(event, options.store);
    if (outcome instanceof Promise) return outcome.then((done) => afterDispatch(item, event, done));
    return afterDispatch(item, event, outcome);
  };

  /**
   * Handles an item in its conversation's turn, settles its share of the batch, and gives its outcome. For
   * speed, an item whose listeners all finished synchronously is done within the call and its outcome comes
   * back as a one-element array (an inner that `concatMapByKey` runs without a subscription), so a run of
   * such events goes through the pipeline in one synchronous loop; otherwise an Observable of the outcome.
   */
  const handle = (item: Item): EventOutcome[] | Observable<EventOutcome> => {
    const outcome = handleNow(item);
    if (!(outcome instanceof Promise)) {
      settleOne(item.tracker, outcome);
      return [outcome];
    }
    return new Observable<EventOutcome>((subscriber) => {
      outcome.then(
        (done) => {
          if (subscriber.closed) return; // abandoned by an unsubscribe: not settled
          try {
            settleOne(item.tracker, done);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          subscriber.next(done);
          subscriber.complete();
        },
        (err: unknown) => subscriber.error(err),
      );
    });
  };

  return {
    commands: router.entries,
    sender: options.sender,
    classify,
    dispatch,
    run(source) {
      return source.batches$.pipe(
        mergeMap((batch) => {
          const tracker: BatchTracker = { pending: batch.events.length, requeue: false, batch };
          if (tracker.pending === 0) batch.settle('ack');
          return batch.events.map((wire) => toItem(wire, tracker));
        }),
        concatMapByKey(
          (item) => item.key,
          handle,
          options.concurrency === undefined ? undefined : { concurrency: options.concurrency },
        ),
      );
    },
  };
}
