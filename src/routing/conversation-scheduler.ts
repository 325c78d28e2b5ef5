/**
 * runWithInbox's scheduling of conversations: at most `concurrency` worked at once, the others waiting in
 * first-come order; a conversation scheduled while it is worked is marked dirty and worked again after.
 *
 * Suspects are worked alone. A suspect (runWithInbox decides: a conversation whose oldest entry is at its
 * last attempt, its earlier handlings having failed or never ended: the instance stalled, stopped or crashed
 * meanwhile, Inbox.lease) may hold the event that crashes the process. Worked beside others, every
 * conversation this instance holds at that crash is counted an attempt at the next take, and the innocent
 * events in flight at the last one would be dead-lettered with it. So a worker that finds a suspect while
 * other conversations are worked puts it aside (`isolate` false: it gives its lease up); no conversation starts
 * while suspects wait; once none is worked, each suspect is worked alone until its suspect entry is done
 * (`endIsolation`), then the others go on.
 */

/** A conversation being worked: `dirty` once it was scheduled meanwhile; `close` ends its lease's fence. */
export type Worked = { dirty: boolean; close?: () => void };

/** What {@link createConversationScheduler} needs. */
export type SchedulerOptions = {
  /** Conversations worked at once. */
  readonly concurrency: number;
  /** Works a conversation until it has nothing left for this instance; `state.dirty` is cleared by it. */
  readonly work: (conversationId: string, state: Worked) => Promise<void>;
  /** Told of a worker's rejection. */
  readonly fail: (err: unknown) => void;
  /** Called after each worker ended (to complete the run when idle). */
  readonly settled: () => void;
  /** True once the run is closed or stopping: nothing more starts. */
  readonly halted: () => boolean;
};

export type ConversationScheduler = {
  /** Works the conversation now, after its current worker (dirty), or later (waiting). */
  schedule(conversationId: string): void;
  /**
   * Asked by a worker that found a suspect: true when it may work it now, alone (no other conversation is
   * worked, and none starts until {@link endIsolation}); false when it was put aside for later.
   */
  isolate(conversationId: string): boolean;
  /** The suspect entry of an isolated conversation is done (or abandoned): the others go on. */
  endIsolation(conversationId: string): void;
  /** Nothing worked, waiting or put aside. */
  isIdle(): boolean;
  /** Forgets what waits (an orderly stop: no further conversation is taken). */
  clearWaiting(): void;
  /** The conversations being worked. */
  readonly active: ReadonlyMap<string, Worked>;
};

/** Creates a scheduler; see the module comment. */
export function createConversationScheduler(options: SchedulerOptions): ConversationScheduler {
  const { concurrency } = options;
  const active = new Map<string, Worked>();
  const waiting = new Set<string>(); // insertion order = first come, first served
  const suspects = new Set<string>(); // put aside, each to be worked alone
  let isolated: string | undefined;

  const start = (conversationId: string): void => {
    const state: Worked = { dirty: false };
    active.set(conversationId, state);
    options
      .work(conversationId, state)
      .catch(options.fail)
      .finally(() => {
        active.delete(conversationId);
        if (isolated === conversationId) isolated = undefined;
        if (state.dirty && !options.halted()) schedule(conversationId);
        startNext();
        options.settled();
      });
  };

  /** Starts what may start: a suspect once nothing is worked, else waiting conversations up to the limit. */
  const startNext = (): void => {
    if (options.halted() || isolated !== undefined) return;
    const [suspect] = suspects;
    if (suspect !== undefined) {
      if (active.size > 0) return; // let the others finish first
      suspects.delete(suspect);
      waiting.delete(suspect);
      start(suspect);
      return;
    }
    for (const next of waiting) {
      if (active.size >= concurrency) return;
      waiting.delete(next);
      schedule(next);
    }
  };

  const schedule = (conversationId: string): void => {
    if (options.halted()) return;
    const running = active.get(conversationId);
    if (running !== undefined) {
      running.dirty = true;
      return;
    }
    if (active.size >= concurrency || isolated !== undefined || suspects.size > 0) {
      if (!suspects.has(conversationId)) waiting.add(conversationId);
      return;
    }
    start(conversationId);
  };

  return {
    schedule,
    isolate(conversationId) {
      if (isolated !== undefined || active.size > 1) {
        suspects.add(conversationId);
        waiting.delete(conversationId);
        return false;
      }
      isolated = conversationId;
      return true;
    },
    endIsolation(conversationId) {
      if (isolated !== conversationId) return;
      isolated = undefined;
      startNext();
    },
    isIdle: () => active.size === 0 && waiting.size === 0 && suspects.size === 0,
    clearWaiting() {
      waiting.clear();
      suspects.clear();
    },
    active,
  };
}
