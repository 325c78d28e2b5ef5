/**
 * WAL checkpoints off the event loop: a worker thread with its own connection to the database runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`, copying committed WAL frames into the database file and
 * syncing it. `node:sqlite` is synchronous, so a checkpoint run by a commit (SQLite's `wal_autocheckpoint`)
 * stops the event loop while it copies and syncs: about 20 ms for 32 MiB of WAL, every fraction of a second
 * at a few thousand events per second. A PASSIVE checkpoint takes no write lock, so the main connection goes on
 * committing meanwhile; what is left for the committing connection's own (smaller) autocheckpoint is the last
 * frames written during the worker's pass. Durability is SQLite's: a checkpoint only copies committed frames,
 * and a process killed during one loses nothing (the WAL still holds every commit).
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
  /** Told of a checkpoint that failed (the next one is tried at the next interval). */
  readonly onError?: (message: string) => void;
};

/** A running checkpointer. */
export type Checkpointer = {
  /** Stops the worker after its checkpoint in progress and closes its connection; resolves when it exited. */
  stop(): Promise<void>;
};

// CommonJS, run with `eval`: no module file to resolve, whatever loads this one (node, vitest). The first
// checkpoint waits one interval; stopping is a message, answered between checkpoints.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { timeout: workerData.busyTimeoutMs });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try {
    checkpoint.get();
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
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
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path: options.path, intervalMs: options.intervalMs ?? 100, busyTimeoutMs: options.busyTimeoutMs ?? 5_000 },
    // node:sqlite's ExperimentalWarning was printed once by the main thread already.
    execArgv: ['--no-warnings'],
    // A few MiB of heap is plenty: the worker only holds a connection.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
  });
  worker.unref();
  worker.on('message', (message: { error?: string }) => {
    if (message.error !== undefined) options.onError?.(message.error);
  });
  worker.on('error', (err: Error) => options.onError?.(err.message));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop: async () => {
      worker.ref(); // awaited: keeps the event loop alive until the worker is gone
      worker.postMessage('stop');
      await exited;
    },
  };
}
