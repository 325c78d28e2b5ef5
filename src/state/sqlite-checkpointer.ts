/**
 * WAL checkpoints off the event loop: a worker thread with its own connection to the database runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`, copying committed WAL frames into the database file and
 * syncing it. `node:sqlite` is synchronous, so a checkpoint run by a commit (SQLite's `wal_autocheckpoint`)
 * stops the event loop while it copies and syncs: about 20 ms for 32 MiB of WAL, and, on a slow disk, up to
 * 717 ms for what the worker had left (end-to-end bench, 2-core VM). A PASSIVE checkpoint takes no write lock,
 * so the main connection goes on committing meanwhile.
 *
 * The WAL restarts from its start only at a write that finds every frame checkpointed (SQLite's
 * `walRestartLog`); under steady commits a pass never catches up, so the WAL would grow until the committing
 * connection's own autocheckpoint. So, once a pass leaves `restartAtFrames` frames or more in the WAL, the
 * worker asks the owner to hold its commits (`hold`: the event loop goes on, writes wait), checkpoints what
 * was committed before the hold, and lets the commits go: the first one restarts the WAL. The hold lasts one
 * pass over the frames of the last interval, at most `holdTimeoutMs`: in the end-to-end bench, 40 holds with
 * a median of 2.2 ms and a maximum of 6.3 ms over 1k and 5k events/s and full speed. Durability is SQLite's: a
 * checkpoint only copies committed frames, and a process killed during one loses nothing (the WAL still holds
 * every commit).
 *
 * A held pass that cannot copy every frame (another connection's read transaction still uses them, or another
 * process committed meanwhile) cannot lead to a restart, so the worker backs off: it asks for the next hold only
 * after 1, 2, 4 … up to `maxBackoffPasses` passes more, the wait doubling after each such hold and back to none
 * after a held pass that copied every frame. By those waits, a reader open for a minute costs about 17 holds, not
 * 600 (one a pass); in its test, 8-9 holds in 200 passes, against 191 without the back-off.
 */
import { Worker } from 'node:worker_threads';

/** Options of {@link startCheckpointer}. */
export type CheckpointerOptions = {
  /** The database file (WAL mode). */
  readonly path: string;
  /** Time between checkpoints, ms. Default: 100. */
  readonly intervalMs?: number;
  /** How long the worker's connection waits for locks, ms. Default: 5_000. */
  readonly busyTimeoutMs?: number;
  /** Told of a checkpoint that failed (the next one is tried at the next interval), or of a hold that timed out. */
  readonly onError?: (message: string) => void;
  /**
   * Holds the owner's commits until the returned function is called (GroupCommit.hold). Without it the
   * worker never asks, and the WAL restarts only when a pass finds no commit came meanwhile.
   */
  readonly hold?: () => () => void;
  /** WAL frames (pages) a pass leaves at which the worker asks for a hold to restart the WAL. Default: 8_192 (32 MiB). */
  readonly restartAtFrames?: number;
  /** Longest hold, ms: the commits go on after it even if the worker has not answered. Default: 1_000. */
  readonly holdTimeoutMs?: number;
  /** Most passes between holds while held passes cannot copy every frame (the back-off's cap). Default: 50 (5 s). */
  readonly maxBackoffPasses?: number;
};

/** A running checkpointer. */
export type Checkpointer = {
  /** Stops the worker after its checkpoint in progress and closes its connection; resolves when it exited. */
  stop(): Promise<void>;
};

// CommonJS, run with `eval`: no module file to resolve, whatever loads this one (node, vitest). The first
// checkpoint waits one interval. Messages: to the owner `{ hold }` (hold your commits), `{ release }` (done)
// and `{ error }`; from it 'held' (no commit until released) and 'stop', answered between checkpoints.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { timeout: workerData.busyTimeoutMs });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let asked = false;
let backoff = 0; // passes to wait between holds while held passes leave frames behind
let wait = 0; // passes left before the next hold may be asked for
const pass = () => {
  try {
    return checkpoint.get();
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
    return { log: 0, checkpointed: 0 };
  }
};
const timer = setInterval(() => {
  if (asked) return;
  const { log } = pass();
  if (wait > 0) wait -= 1;
  else if (log >= workerData.restartAtFrames) {
    asked = true;
    parentPort.postMessage({ hold: true });
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'held') {
    const { log, checkpointed } = pass();
    asked = false;
    backoff = checkpointed < log ? Math.min(Math.max(1, 2 * backoff), workerData.maxBackoffPasses) : 0;
    wait = backoff;
    parentPort.postMessage({ release: true });
    return;
  }
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Starts checkpointing `path` from a worker thread. The worker does not keep the process alive.
 *
 * @example
 * const checkpointer = startCheckpointer({ path: 'var/state.db' });
 * await checkpointer.stop();
 */
export function startCheckpointer(options: CheckpointerOptions): Checkpointer {
  const { hold } = options;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      path: options.path,
      intervalMs: options.intervalMs ?? 100,
      busyTimeoutMs: options.busyTimeoutMs ?? 5_000,
      restartAtFrames: hold === undefined ? Number.POSITIVE_INFINITY : (options.restartAtFrames ?? 8_192),
      maxBackoffPasses: options.maxBackoffPasses ?? 50,
    },
    // node:sqlite's ExperimentalWarning was printed once by the main thread already.
    execArgv: ['--no-warnings'],
    // A few MiB of heap is plenty: the worker only holds a connection.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
  });
  worker.unref();
  const holdTimeoutMs = options.holdTimeoutMs ?? 1_000;
  let stopping = false;
  let release: (() => void) | undefined;
  let holdTimer: NodeJS.Timeout | undefined;
  // The hold's timer is not unref'd (the worker is): the process lives until held writes can commit.
  const endHold = (): void => {
    clearTimeout(holdTimer);
    release?.();
    release = undefined;
  };
  worker.on('message', (message: { error?: string; hold?: true; release?: true }) => {
    if (message.error !== undefined) options.onError?.(message.error);
    if (message.hold === true) {
      if (hold !== undefined && !stopping) {
        release = hold();
        holdTimer = setTimeout(() => {
          endHold();
          options.onError?.(`checkpoint for the WAL restart took over ${holdTimeoutMs} ms: commits resumed`);
        }, holdTimeoutMs);
      }
      worker.postMessage('held'); // answered in any case: the worker asks for no other hold before the answer
    }
    if (message.release === true) endHold();
  });
  worker.on('error', (err: Error) => options.onError?.(err.message));
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      endHold();
      resolve();
    }),
  );
  return {
    stop: async () => {
      stopping = true;
      endHold();
      worker.ref(); // awaited: keeps the event loop alive until the worker is gone
      worker.postMessage('stop');
      await exited;
    },
  };
}
