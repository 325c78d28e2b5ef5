/**
 * chorus: the full event pipeline (zod validation of the V4Event, PresentationML + EntityJSON parsing, the
 * own-event filter, per-conversation ordering, redelivery dedupe, the command router, listener dispatch) fed
 * from memory, batch after batch as the datafeed delivers them: a batch of 100 events (the Agent API's read
 * size) is parsed from its JSON lines, handed to the pipeline, and the next one follows once the pipeline has
 * settled it (the datafeed's ackId discipline). Timed until the pipeline's Observable completes.
 *
 * `--profile <file.cpuprofile>` (after the workload dir) records a V8 CPU profile of the timed run only.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { Observable } from 'rxjs';
import type { DatafeedBatch, DatafeedSource } from '../../src/datafeed/datafeed-source.ts';
import { defineListener } from '../../src/index.ts';
import { createLogger } from '../../src/logger.ts';
import { createMemoryDeadLetters } from '../../src/routing/dead-letters.ts';
import { createEventPipeline, type EventStatus } from '../../src/routing/event-pipeline.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import { createHandlerWork, runDispatch } from '../lib/child.ts';
import { SYMPHONY_BOT } from '../lib/workload.ts';

const BATCH_SIZE = Number(process.env['CHORUS_BENCH_BATCH'] ?? 100);
const work = createHandlerWork();

const listener = defineListener({
  name: 'bench',
  setup(bot) {
    bot.command('/buy {quantity} {$ticker}', (ctx) => work.command('/buy', ctx.args.quantity, ctx.args.ticker.value));
    bot.command('/sell {quantity} {$ticker}', (ctx) => work.command('/sell', ctx.args.quantity, ctx.args.ticker.value));
    bot.command('/quote {$ticker}', (ctx) => work.command('/quote', ctx.args.ticker.value, ''));
    bot.command('/assign {@assignee} {...task}', (ctx) => work.command('/assign', ctx.args.assignee.userId, ctx.args.task));
    bot.command('/remind {when} {...what}', (ctx) => work.command('/remind', ctx.args.when, ctx.args.what));
    bot.mention((ctx) => work.mention(ctx.prompt));
  },
});

/** JSON.parse of one read's events (its own function, so the profile shows it apart unless V8 inlines it). */
function parseWireLines(lines: readonly string[], from: number, to: number): unknown[] {
  const events: unknown[] = [];
  for (let i = from; i < to; i++) events.push(JSON.parse(lines[i] as string));
  return events;
}

/** The wire lines as a datafeed: one batch at a time, the next once the previous one is settled. */
function createLineSource(lines: readonly string[]): DatafeedSource {
  return {
    batches$: new Observable<DatafeedBatch>((subscriber) => {
      let offset = 0;
      const emitNext = (): void => {
        if (subscriber.closed) return;
        if (offset >= lines.length) {
          subscriber.complete();
          return;
        }
        const end = Math.min(offset + BATCH_SIZE, lines.length);
        const events = parseWireLines(lines, offset, end);
        offset = end;
        // Settled from inside the pipeline: continue on a microtask, as the datafeed loop does after a settle.
        subscriber.next({ events, ackId: `bench-${offset}`, settle: () => queueMicrotask(emitNext) });
      };
      emitNext();
    }),
  };
}

const profileAt = process.argv.indexOf('--profile');
const profilePath = profileAt < 0 ? undefined : process.argv[profileAt + 1];
const session = profilePath === undefined ? undefined : new Session();
const statuses = new Map<EventStatus, number>();

await runDispatch({
  name: 'chorus',
  platform: 'symphony',
  work,
  // A message's EntityJSON: JSON in a string of the V4Event, which every Symphony client parses (chorus in parseEntityJSON).
  nestedJSON: (wire) => (wire as { payload?: { messageSent?: { message?: { data?: string } } } }).payload?.messageSent?.message?.data || undefined,
  async setup() {
    const pipeline = await createEventPipeline({
      listeners: [listener],
      bot: SYMPHONY_BOT,
      store: createMemoryStore(),
      sender: { send: async () => undefined },
      deadLetters: createMemoryDeadLetters(1_000),
      log: createLogger({ level: 'warn' }),
    });
    return (lines) =>
      new Promise<void>((resolve, reject) => {
        statuses.clear();
        pipeline.run(createLineSource(lines)).subscribe({
          next: (outcome) => statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1),
          error: reject,
          complete: () => {
            const handled = statuses.get('handled') ?? 0;
            if (handled !== lines.length) reject(new Error(`chorus: ${handled} of ${lines.length} handled: ${JSON.stringify([...statuses])}`));
            else resolve();
          },
        });
      });
  },
  around:
    session === undefined
      ? undefined
      : {
          async before() {
            session.connect();
            await session.post('Profiler.enable');
            await session.post('Profiler.setSamplingInterval', { interval: 100 });
            await session.post('Profiler.start');
          },
          async after() {
            const { profile } = await session.post('Profiler.stop');
            await writeFile(profilePath as string, JSON.stringify(profile));
            session.disconnect();
          },
        },
});
