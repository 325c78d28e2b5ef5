/**
 * Gives memory back while the daemon is idle. V8 grows its young generation (new space: two semi-spaces, their
 * limit sized from the heap limit: 64 MiB each under Node 24 with the 4 GiB heap limit of a 24 GiB machine,
 * reached within about 10 s at 5,000 events/s in the e2e bench) at start-up and under load, and keeps the pages
 * while the process idles: its memory reducer runs after a major GC, and an idle daemon makes none. One
 * memory-reducing full GC (the inspector protocol's `HeapProfiler.collectGarbage`, which V8 runs as a low-memory
 * notification: every space shrunk to what is live) returns them: an idle daemon's RSS fell from 122–125 MB to
 * 104–108 MB in the e2e bench. It costs one full GC (tens of ms of a core) per idle period, and none under load;
 * the young generation grows again under the next load.
 *
 * The inspector session is in-process (`node:inspector`: no port is opened) and closed after each GC.
 */
import type { Logger } from 'pino';

/** What {@link startIdleTrim} needs. */
export type IdleTrimOptions = {
  /** How long without activity makes the daemon idle, ms (checked every half of it); 0: never trim. */
  readonly idleMs: number;
  /** When the daemon was last active (its start, or its last datafeed batch with events), ms since the epoch. */
  readonly lastActiveAt: () => number;
  readonly log: Logger;
  /** The clock, ms since the epoch. Default: Date.now. */
  readonly now?: () => number;
  /** The memory-reducing GC. Default: {@link collectGarbage}. */
  readonly trim?: () => Promise<void>;
};

/**
 * Runs one memory-reducing full GC (V8's low-memory notification, through an in-process inspector session).
 *
 * @throws Error ERR_INSPECTOR_NOT_AVAILABLE on a Node built without the inspector.
 */
export async function collectGarbage(): Promise<void> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.collectGarbage');
  } finally {
    session.disconnect();
  }
}

/**
 * Trims once each time the daemon has been idle for `idleMs` (between 1 and 1.5 × `idleMs` after its last
 * activity), not again until it was active since. Logs each trim at debug (RSS before and after, ms); a trim
 * that fails is logged at warn and none is tried again. Returns the function that stops it. The timer does
 * not keep the process alive.
 */
export function startIdleTrim(options: IdleTrimOptions): () => void {
  const { idleMs, log } = options;
  if (idleMs === 0) return () => undefined;
  const now = options.now ?? Date.now;
  const trim = options.trim ?? collectGarbage;
  let trimmedAfter: number | undefined; // the activity the last trim followed
  const timer = setInterval(() => {
    const lastActiveAt = options.lastActiveAt();
    if (trimmedAfter === lastActiveAt || now() - lastActiveAt < idleMs) return;
    trimmedAfter = lastActiveAt;
    const rssBefore = process.memoryUsage.rss();
    const startedAt = performance.now();
    trim().then(
      () => {
        const fields = { rssBefore, rssAfter: process.memoryUsage.rss(), ms: Math.round(performance.now() - startedAt) };
        log.debug(fields, 'idle: memory trimmed');
      },
      (err: unknown) => {
        clearInterval(timer);
        log.warn({ err }, 'idle: memory trim failed; not tried again');
      },
    );
  }, idleMs / 2);
  timer.unref();
  return () => clearInterval(timer);
}
