/**
 * CPU per event of the inboxes, the largest part of the daemon's own work end to end: the dispatch workload's
 * first 60,000 Symphony events (their wire JSON, about 1 KB each, over 1,000 conversations) handled through
 * the memory and SQLite inboxes as `chorus run` handles them (bench/lib/inbox-load.ts: reads of 100, lease and
 * next per conversation, complete per event), without listeners or network. Rounds alternate between the
 * backends, a fresh inbox (and database file) each; the median of the rounds is reported. CPU is the process's
 * (process.cpuUsage: the main thread, and the SQLite checkpointer's worker once it starts); wall time includes
 * the group commit's waits (1 ms after a busy commit), which an idle harness shows and a busy daemon does not.
 *
 * Not part of `npm run bench`; to measure a change to an inbox: `node bench/inbox/cpu.ts [--rounds 5]`.
 * Prints a table and `BENCH_RESULT {...}`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseWireEvent } from '../../src/events/parse-wire-event.ts';
import type { Inbox, InboxItem } from '../../src/state/inbox.ts';
import { createMemoryInbox } from '../../src/state/memory-inbox.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import { createSqliteInbox } from '../../src/state/sqlite-inbox.ts';
import { handleReads } from '../lib/inbox-load.ts';
import { median } from '../lib/median.ts';
import { createSymphonyWorld, DEFAULT_SPEC, generateItems, toSymphonyEvent } from '../lib/workload.ts';

const EVENTS = 60_000;
const READ_SIZE = 100;
const { values: flags } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write('usage: node bench/inbox/cpu.ts [--rounds <n ≥ 1>]\n');
  process.exit(2);
}

// Each event's conversation and dedupe key as chorus derives them (runWithInbox appends what parseWireEvent gives).
const world = createSymphonyWorld(DEFAULT_SPEC);
const items: InboxItem[] = generateItems(DEFAULT_SPEC)
  .slice(0, EVENTS)
  .map((item) => {
    const wire = toSymphonyEvent(world, item);
    const event = parseWireEvent(wire);
    if (event === null) throw new Error('inbox/cpu: the workload made an event of an unsupported type');
    return { conversationId: event.conversationId, dedupeKey: event.dedupeKey, wire: JSON.stringify(wire) };
  });
const reads = Array.from({ length: Math.ceil(items.length / READ_SIZE) }, (_, i) => items.slice(i * READ_SIZE, (i + 1) * READ_SIZE));

const scratch = mkdtempSync(join(tmpdir(), 'chorus-bench-inbox-cpu-'));
const backends: Record<string, (round: number) => Inbox> = {
  memory: () => createMemoryInbox({ store: createMemoryStore() }),
  sqlite: (round) => createSqliteInbox({ path: join(scratch, `round-${round}.db`) }),
};

type Round = { readonly cpuUs: number; readonly wallUs: number };
const measured = new Map<string, Round[]>(Object.keys(backends).map((name) => [name, []]));
try {
  for (let round = 0; round < rounds; round++) {
    for (const [name, open] of Object.entries(backends)) {
      const inbox = open(round);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await handleReads(inbox, reads);
      const wallUs = ((performance.now() - t0) * 1000) / items.length;
      const cpu = process.cpuUsage(cpu0);
      await inbox.close();
      measured.get(name)?.push({ cpuUs: (cpu.user + cpu.system) / items.length, wallUs });
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const result = [...measured].map(([backend, list]) => ({
  backend,
  cpuUsPerEvent: median(list.map((r) => r.cpuUs)),
  wallUsPerEvent: median(list.map((r) => r.wallUs)),
  cpuUsPerEventRounds: list.map((r) => Number(r.cpuUs.toFixed(1))),
}));
process.stdout.write(`${items.length.toLocaleString('en-US')} events in reads of ${READ_SIZE}, ${rounds} rounds per backend, median of the rounds:\n`);
for (const r of result) {
  process.stdout.write(`  ${r.backend.padEnd(7)} CPU ${r.cpuUsPerEvent.toFixed(1)} µs/event (rounds: ${r.cpuUsPerEventRounds.join(', ')}), wall ${r.wallUsPerEvent.toFixed(1)} µs/event\n`);
}
process.stdout.write(`BENCH_RESULT ${JSON.stringify({ events: items.length, rounds, backends: result })}\n`);
