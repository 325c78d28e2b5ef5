/**
 * What every dispatch child shares: reading its platform's lines, the handlers' trivial work, the timing and
 * the one result line it prints for bench/run.ts.
 */
import { readLines, type Platform } from './workload-files.ts';
import { emptyCounts, type CommandName, type HandlerCounts } from './workload.ts';

/** The result a dispatch child prints as its last stdout line, after `BENCH_RESULT `. */
export type DispatchResult = {
  readonly name: string;
  readonly platform: Platform;
  readonly events: number;
  readonly elapsedMs: number;
  readonly counts: HandlerCounts;
  /** Peak RSS of the process (process.resourceUsage().maxRSS), bytes. */
  readonly peakRssBytes: number;
  /** RSS once the workload was loaded and collected, before the framework was imported, bytes. */
  readonly loadedRssBytes: number;
  /** Checksum of the handlers' work, so nothing is optimized away. */
  readonly checksum: number;
  /**
   * JSON.parse of the timed run's wire lines alone, after that run, ms: the median of {@link PARSE_PASSES}
   * passes. What every framework pays for its wire format before doing any of its own work.
   */
  readonly parseAloneMs: number;
  /**
   * JSON.parse of the JSON texts the timed run's wire messages carry inside string fields, alone, ms (median of
   * {@link PARSE_PASSES} passes): for Symphony, each message's EntityJSON (its `data`), which every Symphony
   * client parses as well. Absent for wire formats without such texts.
   */
  readonly nestedParseAloneMs?: number;
  readonly notes?: string;
};

/** The handlers' trivial work: count the call, touch the arguments. Same in every framework. */
export function createHandlerWork(): {
  readonly counts: HandlerCounts;
  command(name: CommandName, a: string, b: string): void;
  mention(text: string): void;
  reset(): void;
  checksum(): number;
} {
  let counts = emptyCounts();
  let sum = 0;
  return {
    get counts() {
      return counts;
    },
    command(name, a, b) {
      counts[name] += 1;
      sum += a.length + b.length;
    },
    mention(text) {
      counts.mention += 1;
      sum += text.length;
    },
    reset() {
      counts = emptyCounts();
      sum = 0;
    },
    checksum: () => sum,
  };
}

/** Splits `"100 $AAPL"` into `['100', '$AAPL']` at the first space (what a handler does with a raw argument string). */
export function splitFirst(text: string): [string, string] {
  const at = text.indexOf(' ');
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

/** Passes of {@link timeParseAlone}; the median is reported. */
const PARSE_PASSES = 3;

/** JSON.parse of `texts` (JSON objects each), nothing else, ms: the median of {@link PARSE_PASSES} passes. */
function timeParseAlone(texts: readonly string[]): number {
  const passes: number[] = [];
  let objects = 0; // read after the passes, so the parsing cannot be left out
  for (let pass = 0; pass < PARSE_PASSES; pass++) {
    collect();
    const startedAt = performance.now();
    for (const text of texts) if (typeof JSON.parse(text) === 'object') objects += 1;
    passes.push(performance.now() - startedAt);
  }
  if (objects !== texts.length * PARSE_PASSES) throw new Error(`${texts.length * PARSE_PASSES - objects} JSON texts are not objects`);
  return passes.sort((a, b) => a - b)[Math.floor(PARSE_PASSES / 2)] as number;
}

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Loads the lines, then runs `setup` (which imports and builds the framework), the warm-up, the timed run and
 * JSON.parse of the timed lines alone (timeParseAlone), and prints the result. `run(lines)` must handle every
 * line (JSON.parse included) and resolve when all are done.
 */
export async function runDispatch(options: {
  readonly name: string;
  readonly platform: Platform;
  readonly work: ReturnType<typeof createHandlerWork>;
  setup(): Promise<(lines: readonly string[]) => Promise<void>>;
  /** Called around the timed run only (the CPU profile). */
  readonly around?: { before(): Promise<void>; after(): Promise<void> } | undefined;
  /** The JSON text a parsed wire message carries in a string field, if any (see DispatchResult.nestedParseAloneMs). */
  readonly nestedJSON?: (wire: unknown) => string | undefined;
  readonly notes?: string;
}): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: <child> <workload dir>');
  const { warmup, timed } = await readLines(dir, options.platform);
  collect();
  const loadedRssBytes = process.memoryUsage.rss();
  const run = await options.setup();
  await run(warmup);
  options.work.reset();
  collect();
  await options.around?.before();
  const startedAt = performance.now();
  await run(timed);
  const elapsedMs = performance.now() - startedAt;
  await options.around?.after();
  const parseAloneMs = timeParseAlone(timed);
  const { nestedJSON } = options;
  const nested = nestedJSON === undefined ? [] : timed.map((line) => nestedJSON(JSON.parse(line))).filter((text) => text !== undefined);
  const result: DispatchResult = {
    name: options.name,
    platform: options.platform,
    events: timed.length,
    elapsedMs,
    counts: options.work.counts,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    loadedRssBytes,
    checksum: options.work.checksum(),
    parseAloneMs,
    ...(nested.length === 0 ? {} : { nestedParseAloneMs: timeParseAlone(nested) }),
    ...(options.notes === undefined ? {} : { notes: options.notes }),
  };
  // Exit explicitly: some frameworks keep timers alive (Hubot's brain), and the parent waits for the exit.
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
}
