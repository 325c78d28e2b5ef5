/**
 * Group commit over one `node:sqlite` connection, for the SQLite Inbox: the writes called within one turn of
 * the event loop run, in call order, in one synchronous `BEGIN IMMEDIATE … COMMIT` on the next turn (no
 * await inside a transaction, so several processes may share the file), and each promise settles once that
 * transaction committed. A commit writes every page it changed to the WAL, so one commit of many writes costs
 * little more than one of a single write. Under load the turns are short and carry few writes each: after a
 * commit of `busyWrites` (4) writes or more, the next one starts `minIntervalMs` (1 ms) after it, so the writes
 * of the turns in between share it; after a smaller commit (low load) the next one waits for no timer.
 * Measured in the end-to-end bench at 5,000 events/s: about 650 commits/s of ~25 writes instead of ~2,800 of
 * ~5, half the time spent in commits.
 */
import type { DatabaseSync } from 'node:sqlite';
import { toStateError } from './store-lifecycle.ts';

/** What {@link createGroupCommit} returns. */
export type GroupCommit = {
  /**
   * Queues `body` (synchronous; `at` is the transaction's time) for the next group commit and resolves with
   * its result once committed. Atomic: when `body` throws, the transaction is rolled back and every write of
   * the turn runs again in a transaction of its own, so the others commit and this one fails alone.
   * @throws ChorusError CHORUS_ERR_STATE_UNAVAILABLE (the promise rejects) when the database fails.
   */
  write<R>(operation: string, body: (at: number) => R): Promise<R>;
  /**
   * Runs `body` at once without a transaction (WAL: it reads the last commit), or, while writes called
   * before it wait, behind them in their transaction: a read sees every write called before it.
   */
  read<R>(body: (at: number) => R): Promise<R>;
  /** Resolves once the writes called so far are settled. */
  drained(): Promise<void>;
  /**
   * Holds commits back until the returned function is called (once; later calls do nothing): writes called
   * meanwhile wait, without blocking the event loop, and commit together after it. Called between commits
   * (never inside one: they are synchronous), so no transaction is open while held. For the checkpointer's WAL
   * restart (sqlite-checkpointer.ts). Holds nest: commits resume once every hold is released.
   */
  readonly hold: () => () => void;
};

/** Options of {@link createGroupCommit}. */
export type GroupCommitOptions = {
  /** Names the database in error messages, e.g. `sqlite var/state.db`. */
  readonly name: string;
  /** The clock handed to the bodies, ms since the epoch. */
  readonly now: () => number;
  /**
   * Least time between the start of a busy commit (see `busyWrites`) and the next one, ms: the writes called
   * meanwhile wait and share that next commit. Default: 1.
   */
  readonly minIntervalMs?: number;
  /**
   * The interval applies after a commit of at least this many writes (the sign of load); after a smaller one the
   * next commit starts on the next turn, so at low rates no write waits for a timer. Default: 4.
   */
  readonly busyWrites?: number;
};

/** Default {@link GroupCommitOptions.minIntervalMs}. */
export const DEFAULT_MIN_INTERVAL_MS = 1;

/** Default {@link GroupCommitOptions.busyWrites}. */
export const DEFAULT_BUSY_WRITES = 4;

type Call = { operation: string; body: (at: number) => unknown; resolve: (value: unknown) => void; reject: (err: unknown) => void };

/**
 * Creates the group commit of `db`; `name` (e.g. `sqlite var/state.db`) goes into error messages, `now` is
 * the clock handed to the bodies.
 *
 * @example
 * const commits = createGroupCommit(db, { name: 'sqlite var/state.db', now: Date.now });
 * const done = await commits.write('mark', (at) => markDone.run(key, at + windowMs));
 */
export function createGroupCommit(db: DatabaseSync, options: GroupCommitOptions): GroupCommit {
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
  const busyWrites = options.busyWrites ?? DEFAULT_BUSY_WRITES;
  let calls: Call[] = [];
  let flushed: Promise<void> | undefined;
  let lastFlushAt = Number.NEGATIVE_INFINITY;
  let lastFlushSize = 0;
  let holds = 0;
  let held: (() => void) | undefined; // the flush that waits for the holds' release

  // One synchronous transaction; driver errors become CHORUS_ERR_STATE_UNAVAILABLE.
  const transaction = <R>(operation: string, body: (at: number) => R): R => {
    try {
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = body(options.now());
        db.exec('COMMIT');
        return result;
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    } catch (err) {
      throw toStateError(err, options.name, operation);
    }
  };
  const settleAlone = (call: Call): void => {
    try {
      call.resolve(transaction(call.operation, call.body));
    } catch (err) {
      call.reject(err);
    }
  };
  const flush = (): void => {
    lastFlushAt = performance.now();
    lastFlushSize = calls.length;
    const batch = calls;
    calls = [];
    flushed = undefined;
    if (batch.length === 1) {
      settleAlone(batch[0] as Call);
      return;
    }
    const results: unknown[] = [];
    let thrown = false;
    try {
      transaction('commit', (at) => {
        for (const call of batch) {
          try {
            results.push(call.body(at));
          } catch (err) {
            thrown = true;
            throw err;
          }
        }
      });
    } catch (err) {
      // A call threw: rolled back, and every call runs again on its own, so only that one fails. Otherwise
      // the transaction itself failed (e.g. the write lock not had within the busy timeout): they all fail.
      for (const call of batch) {
        if (thrown) settleAlone(call);
        else call.reject(err);
      }
      return;
    }
    batch.forEach((call, i) => call.resolve(results[i]));
  };

  const write = <R>(operation: string, body: (at: number) => R): Promise<R> => {
    const result = new Promise<R>((resolve, reject) => {
      calls.push({ operation, body, resolve: resolve as (value: unknown) => void, reject });
    });
    flushed ??= new Promise<void>((resolve) => {
      const run = (): void => {
        if (holds > 0) {
          held = run;
          return;
        }
        flush();
        resolve();
      };
      const waitMs = lastFlushSize >= busyWrites ? lastFlushAt + minIntervalMs - performance.now() : 0;
      if (waitMs > 0) setTimeout(run, waitMs);
      else setImmediate(run);
    });
    return result;
  };

  return {
    write,
    read: async (body) => {
      if (calls.length > 0) return write('read', body);
      try {
        return body(options.now());
      } catch (err) {
        throw toStateError(err, options.name, 'read');
      }
    },
    drained: async () => flushed,
    hold: () => {
      holds += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        holds -= 1;
        if (holds > 0 || held === undefined) return;
        const run = held;
        held = undefined;
        setImmediate(run);
      };
    },
  };
}
