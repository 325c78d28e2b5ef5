import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ChorusError } from '../errors.ts';
import type { DatafeedBatch } from './datafeed-source.ts';
import { createReplaySource } from './replay-source.ts';

let dir = '';
let fileCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chorus-replay-source-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `content` to a fresh file of the temp folder and returns its path. */
async function feedFile(content: string, extension = 'jsonl'): Promise<string> {
  fileCount += 1;
  const path = join(dir, `feed-${fileCount}.${extension}`);
  await writeFile(path, content, 'utf8');
  return path;
}

/** A minimal wire event; the replay source does not validate events, so this is enough. */
function wireEvent(n: number): { id: string; type: string; timestamp: number; payload: object } {
  return { id: `event-${n}`, type: 'MESSAGESENT', timestamp: 1_767_225_600_000 + n, payload: { n } };
}

const jsonLines = (values: readonly unknown[]): string => values.map((value) => JSON.stringify(value)).join('\n');

async function readAll(path: string, batchSize?: number): Promise<DatafeedBatch[]> {
  const source = createReplaySource(path, batchSize === undefined ? {} : { batchSize });
  return lastValueFrom(source.batches$.pipe(toArray()));
}

const summary = (batches: readonly DatafeedBatch[]) =>
  batches.map((batch) => ({ ackId: batch.ackId, ids: batch.events.map((event) => (event as { id?: unknown }).id) }));

/** The error `batches$` fails with (or a test failure when it completes). */
async function feedError(path: string): Promise<ChorusError> {
  try {
    await readAll(path);
  } catch (err) {
    expect(err).toBeInstanceOf(ChorusError);
    return err as ChorusError;
  }
  throw new Error(`expected ${path} to fail`);
}

describe('createReplaySource', () => {
  describe('JSON Lines of V4Events', () => {
    it('groups consecutive events into batches of batchSize with synthetic ackIds', async () => {
      const events = [1, 2, 3, 4, 5].map(wireEvent);
      const batches = await readAll(await feedFile(jsonLines(events)), 2);
      expect(summary(batches)).toEqual([
        { ackId: 'replay-1', ids: ['event-1', 'event-2'] },
        { ackId: 'replay-2', ids: ['event-3', 'event-4'] },
        { ackId: 'replay-3', ids: ['event-5'] },
      ]);
      expect(batches.flatMap((batch) => batch.events)).toEqual(events);
    });

    it('uses batches of 100 events by default', async () => {
      const events = Array.from({ length: 150 }, (_, i) => wireEvent(i + 1));
      const batches = await readAll(await feedFile(`${jsonLines(events)}\n`));
      expect(batches.map((batch) => batch.events.length)).toEqual([100, 50]);
    });

    it('ignores blank lines, CRLF line ends and a byte order mark', async () => {
      const content = `\uFEFF${JSON.stringify(wireEvent(1))}\r\n\r\n   \r\n${JSON.stringify(wireEvent(2))}\r\n\n`;
      const batches = await readAll(await feedFile(content));
      expect(summary(batches)).toEqual([{ ackId: 'replay-1', ids: ['event-1', 'event-2'] }]);
    });

    it('passes malformed events through unvalidated, so that the pipeline can dead-letter them', async () => {
      const malformed = [{ type: 'MESSAGESENT', payload: null }, { type: 42 }, { payload: 'x', id: 7 }];
      const batches = await readAll(await feedFile(jsonLines([wireEvent(1), ...malformed])));
      expect(batches).toHaveLength(1);
      expect(batches[0]?.events).toEqual([wireEvent(1), ...malformed]);
    });

    it('completes with no batch for an empty or blank file', async () => {
      expect(await readAll(await feedFile(''))).toEqual([]);
      expect(await readAll(await feedFile('\n  \n'))).toEqual([]);
    });
  });

  describe('datafeed read responses', () => {
    it('reads a pretty-printed read response as one batch with its ackId', async () => {
      const response = { events: [wireEvent(1), wireEvent(2)], ackId: 'ack-from-the-agent' };
      const batches = await readAll(await feedFile(JSON.stringify(response, null, 2), 'json'));
      expect(summary(batches)).toEqual([{ ackId: 'ack-from-the-agent', ids: ['event-1', 'event-2'] }]);
      expect(batches[0]?.events).toEqual(response.events);
    });

    it('reads events null or absent as an empty batch', async () => {
      const nullEvents = await readAll(await feedFile(JSON.stringify({ events: null, ackId: 'a1' }, null, 2)));
      const noEvents = await readAll(await feedFile(JSON.stringify({ ackId: 'a2' })));
      expect(summary([...nullEvents, ...noEvents])).toEqual([
        { ackId: 'a1', ids: [] },
        { ackId: 'a2', ids: [] },
      ]);
    });

    it('reads JSON Lines of read responses as one batch a line', async () => {
      const lines = [
        { events: [wireEvent(1)], ackId: 'a1' },
        { events: [], ackId: 'a2' },
        { events: [wireEvent(2), wireEvent(3)], ackId: 'a3' },
      ];
      const batches = await readAll(await feedFile(jsonLines(lines)), 1);
      expect(summary(batches)).toEqual([
        { ackId: 'a1', ids: ['event-1'] },
        { ackId: 'a2', ids: [] },
        { ackId: 'a3', ids: ['event-2', 'event-3'] },
      ]);
    });

    it('reads a top-level array of V4Events (DF v1 read) as one batch, pretty-printed or on one line', async () => {
      const events = [wireEvent(1), wireEvent(2), wireEvent(3)];
      const pretty = await readAll(await feedFile(JSON.stringify(events, null, 2), 'json'), 2);
      const compact = await readAll(await feedFile(JSON.stringify(events), 'json'), 2);
      expect(summary(pretty)).toEqual([{ ackId: 'replay-1', ids: ['event-1', 'event-2', 'event-3'] }]);
      expect(summary(compact)).toEqual(summary(pretty));
    });

    it('reads a pretty-printed single V4Event as a batch of one', async () => {
      const batches = await readAll(await feedFile(JSON.stringify(wireEvent(9), null, 2), 'json'));
      expect(summary(batches)).toEqual([{ ackId: 'replay-1', ids: ['event-9'] }]);
    });

    it('keeps the order of mixed lines: pending events are batched before a read response', async () => {
      const lines = [
        wireEvent(1),
        wireEvent(2),
        { events: [wireEvent(3)], ackId: 'recorded' },
        wireEvent(4),
        [wireEvent(5)],
        { events: [wireEvent(6)] },
      ];
      const batches = await readAll(await feedFile(jsonLines(lines)));
      expect(summary(batches)).toEqual([
        { ackId: 'replay-1', ids: ['event-1', 'event-2'] },
        { ackId: 'recorded', ids: ['event-3'] },
        { ackId: 'replay-3', ids: ['event-4'] },
        { ackId: 'replay-4', ids: ['event-5'] },
        { ackId: 'replay-5', ids: ['event-6'] },
      ]);
    });
  });

  describe('settle', () => {
    it('records each batch outcome in call order', async () => {
      const source = createReplaySource(await feedFile(jsonLines([1, 2, 3].map(wireEvent))), { batchSize: 1 });
      const batches = await lastValueFrom(source.batches$.pipe(toArray()));
      expect(source.outcomes).toEqual([]);
      batches[1]?.settle('requeue');
      batches[0]?.settle('ack');
      batches[2]?.settle('ack');
      expect(source.outcomes).toEqual([
        { ackId: 'replay-2', outcome: 'requeue' },
        { ackId: 'replay-1', outcome: 'ack' },
        { ackId: 'replay-3', outcome: 'ack' },
      ]);
    });
  });

  describe('laziness', () => {
    it('opens the file only when subscribed, and replays it again on each subscription', async () => {
      const path = join(dir, 'written-after-create.jsonl');
      const source = createReplaySource(path, { batchSize: 1 });
      await writeFile(path, jsonLines([wireEvent(1), wireEvent(2)]));
      const first = await lastValueFrom(source.batches$.pipe(toArray()));
      const second = await lastValueFrom(source.batches$.pipe(toArray()));
      expect(summary(first)).toEqual(summary(second));
      expect(summary(first).map((batch) => batch.ackId)).toEqual(['replay-1', 'replay-2']);
    });

    // Linux: the open files of this process are listed in /proc/self/fd.
    it('closes the file when unsubscribed before the end', async () => {
      const path = await feedFile(jsonLines(Array.from({ length: 5_000 }, (_, i) => wireEvent(i))));
      const openFds = async (): Promise<string[]> => {
        const fds = await readdir('/proc/self/fd');
        const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
        return targets.filter((target) => target === path);
      };
      const source = createReplaySource(path, { batchSize: 1 });
      // Unsubscribing after three batches (take) must close the file although 4,997 lines remain unread.
      const firstThree = await lastValueFrom(source.batches$.pipe(take(3), toArray()));
      expect(summary(firstThree).map((batch) => batch.ackId)).toEqual(['replay-1', 'replay-2', 'replay-3']);
      await vi.waitFor(async () => expect(await openFds()).toEqual([]));
    });
  });

  describe('invalid feeds', () => {
    it('fails on a line that is not JSON, naming the path and line, with the parse error as cause', async () => {
      const path = await feedFile(`${JSON.stringify(wireEvent(1))}\n\n{"type": "MESSAGESENT", oops}\n`);
      const err = await feedError(path);
      expect(err.code).toBe('CHORUS_ERR_FEED_INVALID');
      expect(err.message).toBe(`${path}:3: not JSON`);
      expect(err.cause).toBeInstanceOf(SyntaxError);
    });

    it('emits the complete batches before the faulty line, then fails', async () => {
      const path = await feedFile([...[1, 2, 3].map((n) => JSON.stringify(wireEvent(n))), 'not json'].join('\n'));
      const seen: string[] = [];
      const err = await new Promise<unknown>((resolve) => {
        createReplaySource(path, { batchSize: 2 }).batches$.subscribe({
          next: (batch) => seen.push(batch.ackId),
          error: resolve,
          complete: () => resolve(undefined),
        });
      });
      expect(err).toMatchObject({ code: 'CHORUS_ERR_FEED_INVALID', message: `${path}:4: not JSON` });
      expect(seen).toEqual(['replay-1']);
    });

    it('fails on a first line that is not JSON and does not open a document', async () => {
      const path = await feedFile('id,type\n1,MESSAGESENT\n', 'csv');
      expect((await feedError(path)).message).toBe(`${path}:1: not JSON`);
    });

    it('fails on a pretty-printed document that does not parse, naming its first line', async () => {
      const path = await feedFile('\n{\n  "events": [\n    {"type": "MESSAGESENT"},\n  ],\n', 'json');
      const err = await feedError(path);
      expect(err.message).toBe(`${path}:2: not JSON (a document starting on this line)`);
      expect(err.cause).toBeInstanceOf(SyntaxError);
    });

    const notAnObject = 'not an object or an array (expected a V4Event or a datafeed read response)';
    const unrelated = 'neither a V4Event (type, payload) nor a datafeed read response (events, ackId)';
    it.each([
      ['a number', '42', notAnObject],
      ['a string', '"MESSAGESENT"', notAnObject],
      ['null', 'null', notAnObject],
      ['an unrelated object', '{"name": "config"}', unrelated],
      ['events that are not an array', '{"events": {"0": {}}, "ackId": "a"}', 'read response: events is not an array'],
      ['an ackId that is not a string', '{"events": [], "ackId": 7}', 'read response: ackId is not a string'],
    ])('fails on a line holding %s', async (_name, line, reason) => {
      const path = await feedFile(`${JSON.stringify(wireEvent(1))}\n${line}\n`);
      const err = await feedError(path);
      expect(err.code).toBe('CHORUS_ERR_FEED_INVALID');
      expect(err.message).toBe(`${path}:2: ${reason}`);
    });

    it('fails on a missing file, naming the path', async () => {
      const path = join(dir, 'does-not-exist.jsonl');
      const err = await feedError(path);
      expect(err.code).toBe('CHORUS_ERR_FEED_INVALID');
      expect(err.message).toBe(`${path}: cannot read the feed (ENOENT)`);
      expect((err.cause as { code?: unknown }).code).toBe('ENOENT');
    });

    it('fails on a directory, naming the path', async () => {
      const path = join(dir, 'a-directory');
      await mkdir(path);
      expect((await feedError(path)).message).toBe(`${path}: cannot read the feed (EISDIR)`);
    });

    it('rejects a batchSize that is not a positive integer', () => {
      for (const batchSize of [0, -1, 2.5, Number.NaN]) {
        expect(() => createReplaySource('feed.jsonl', { batchSize })).toThrow(RangeError);
      }
    });
  });

  it('emits batches that satisfy the DatafeedBatch port', async () => {
    const batch = await firstValueFrom(createReplaySource(await feedFile(jsonLines([wireEvent(1)]))).batches$);
    expect(Object.keys(batch).sort()).toEqual(['ackId', 'events', 'settle']);
    expect(batch.events).toEqual([wireEvent(1)]);
    expect(typeof batch.settle).toBe('function');
  });
});
