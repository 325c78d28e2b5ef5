/**
 * runWithInbox instances sharing one real backend, for the suites that play several instances, stalls and
 * crashes (test/lease-fencing.test.ts, test/lease-overrun.test.ts). A backend kind makes one shared inbox and
 * store, and `open()` gives each instance its view of it: the memory adapter, the same objects; SQLite, a
 * connection of its own on one file; Redis, clients of its own under one key prefix. What a test started is
 * stopped, and what it opened closed, after it, even when it failed halfway.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { afterEach } from 'vitest';
import { createMemorySource } from '../../src/datafeed/memory-source.ts';
import type { OutboundMessage } from '../../src/reply/reply-sender.ts';
import { createMemoryDeadLetters } from '../../src/routing/dead-letters.ts';
import { createEventPipeline, type EventOutcome } from '../../src/routing/event-pipeline.ts';
import type { ListenerModule } from '../../src/routing/listener.ts';
import { runWithInbox } from '../../src/routing/run-with-inbox.ts';
import type { ConversationStore } from '../../src/state/conversation-store.ts';
import type { Inbox } from '../../src/state/inbox.ts';
import { createMemoryInbox } from '../../src/state/memory-inbox.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import { createRedisInbox } from '../../src/state/redis-inbox.ts';
import { createRedisStore } from '../../src/state/redis-store.ts';
import { createSqliteInbox } from '../../src/state/sqlite-inbox.ts';
import { createSqliteStore } from '../../src/state/sqlite-store.ts';
import { useTestRedis } from '../state/redis-url.ts';
import { useTempDirs } from './temp-dirs.ts';

/** The bot of every instance (the event factories of the suites use it too). */
export const INSTANCE_BOT = { userId: '7000000000001', displayName: 'Chorus Bot' } as const;

/** An instance's view of the shared backend. */
export type Backend = { readonly inbox: Inbox; readonly store: ConversationStore };
/** A kind of backend: `make()` makes a fresh shared one. */
export type BackendKind = { readonly name: string; make(): { open(): Promise<Backend> } };
/**
 * A backend whose inbox takes the time from its caller, so a test can skew it: `skewed(clockSkewMs, take)`
 * runs `take` with a view whose inbox clock runs `clockSkewMs` ahead (the memory adapter: the skew applied
 * while `take` runs; SQLite: a connection with that clock). Redis keeps the time itself, so it has none.
 */
export type SkewableKind = {
  readonly name: string;
  make(): { open(): Promise<Backend>; skewed<T>(clockSkewMs: number, take: (backend: Backend) => T): T };
};

/** What {@link InboxInstances.start} runs. */
export type InstanceOptions = {
  readonly owner: string;
  readonly listener: ListenerModule;
  readonly backend: Backend;
  /** The events of its datafeed, one batch (none: it only works what the inbox holds). */
  readonly events: readonly unknown[];
  /** Told of every reply it sends. */
  readonly onSend: (message: OutboundMessage) => void;
  readonly log: Logger;
  readonly leaseMs: number;
  readonly maxAttempts?: number;
};

/** A started instance: its outcomes, its end, an orderly stop and a crash (unsubscribed at once). */
export type Instance = {
  readonly outcomes: EventOutcome[];
  readonly done: Promise<void>;
  stop(): void;
  /** Stops at once, as a crash does for the inbox: the event in flight stays queued, its lease held. */
  crash(): void;
};

export type InboxInstances = {
  readonly memory: SkewableKind;
  readonly sqlite: SkewableKind;
  readonly redis: BackendKind;
  start(options: InstanceOptions): Promise<Instance>;
};

/** Registers the clean-up (and the test Redis) of a suite; `prefix` names its temporary folders. */
export function useInboxInstances(prefix: string): InboxInstances {
  const running: Subscription[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const subscription of running.splice(0)) subscription.unsubscribe();
    for (const close of closers.splice(0)) await close();
  });
  const tempDir = useTempDirs(prefix);
  const testRedis = useTestRedis();
  const track = (backend: Backend): Backend => {
    closers.push(async () => void (await Promise.all([backend.inbox.close(), backend.store.close()])));
    return backend;
  };

  const memory: SkewableKind = {
    name: 'memory inbox',
    make() {
      let skewMs = 0;
      const store = createMemoryStore();
      const backend = { store, inbox: createMemoryInbox({ store, now: () => Date.now() + skewMs }) };
      return {
        open: async () => backend,
        skewed(clockSkewMs, take) {
          skewMs = clockSkewMs;
          try {
            return take(backend); // the memory inbox reads its clock synchronously, within the call
          } finally {
            skewMs = 0;
          }
        },
      };
    },
  };
  const sqlite: SkewableKind = {
    name: 'SQLite inbox',
    make() {
      const path = join(tempDir(), 'state.db');
      const open = (now?: () => number): Backend =>
        track({ store: createSqliteStore({ path }), inbox: createSqliteInbox(now === undefined ? { path } : { path, now }) });
      return { open: async () => open(), skewed: (clockSkewMs, take) => take(open(() => Date.now() + clockSkewMs)) };
    },
  };
  const redis: BackendKind = {
    name: 'Redis inbox',
    make() {
      const keyPrefix = testRedis.nextPrefix();
      return {
        open: async () =>
          track({
            store: await createRedisStore({ url: testRedis.url(), keyPrefix }),
            inbox: await createRedisInbox({ url: testRedis.url(), keyPrefix }),
          }),
      };
    },
  };

  const start = async (options: InstanceOptions): Promise<Instance> => {
    const pipeline = await createEventPipeline({
      listeners: [options.listener],
      bot: INSTANCE_BOT,
      store: options.backend.store,
      sender: { send: async (message) => void options.onSend(message) },
      deadLetters: createMemoryDeadLetters(),
      log: options.log,
    });
    const stopping = new AbortController();
    const outcomes: EventOutcome[] = [];
    const outcomes$ = runWithInbox({
      pipeline,
      source: createMemorySource(options.events.length === 0 ? [] : [{ events: [...options.events] }]),
      ...options.backend,
      log: options.log,
      owner: options.owner,
      leaseMs: options.leaseMs,
      ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
      sweepIntervalMs: 20,
      retryDelayMs: 1,
      stopSignal: stopping.signal,
    });
    let subscription: Subscription | undefined;
    const done = new Promise<void>((resolve, reject) => {
      subscription = outcomes$.subscribe({ next: (outcome) => void outcomes.push(outcome), error: reject, complete: resolve });
      running.push(subscription);
    });
    return { outcomes, done, stop: () => stopping.abort(), crash: () => subscription?.unsubscribe() };
  };

  return { memory, sqlite, redis, start };
}
