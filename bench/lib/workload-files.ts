/**
 * Writes the workload once, as one JSON Lines file per platform (each line is one wire message exactly as its
 * platform sends it), and reads it back in the dispatch children.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  createSymphonyWorld,
  expectedCounts,
  generateItems,
  toHubotMessage,
  toSlackBody,
  toSymphonyEvent,
  toTelegramUpdate,
  type HandlerCounts,
  type WorkloadSpec,
} from './workload.ts';

export const PLATFORMS = ['symphony', 'telegram', 'slack', 'hubot'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** What the files hold besides the lines. */
export type WorkloadMeta = {
  readonly spec: WorkloadSpec;
  /** Handler invocations expected in the timed run (the warm-up is not counted). */
  readonly expected: HandlerCounts;
  /** Share of each kind in the timed run. */
  readonly mix: { readonly command: number; readonly mention: number; readonly chatter: number };
  /** Bytes of the timed lines per platform. */
  readonly bytes: Record<Platform, number>;
};

async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  for (const line of lines) {
    if (!out.write(`${line}\n`)) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Generates the workload and writes `<dir>/<platform>.jsonl` and `<dir>/meta.json`. */
export async function writeWorkload(dir: string, spec: WorkloadSpec): Promise<WorkloadMeta> {
  const items = generateItems(spec);
  const timed = items.slice(spec.warmup);
  const world = createSymphonyWorld(spec);
  const messageIds: number[] = [];
  const encoders: Record<Platform, (n: number) => object> = {
    symphony: (n) => toSymphonyEvent(world, items[n]!),
    telegram: (n) => toTelegramUpdate(items[n]!, n, messageIds),
    slack: (n) => toSlackBody(items[n]!, n),
    hubot: (n) => toHubotMessage(items[n]!, n),
  };
  const bytes = { symphony: 0, telegram: 0, slack: 0, hubot: 0 };
  for (const platform of PLATFORMS) {
    const encode = encoders[platform];
    const lines = function* (): Generator<string> {
      for (let n = 0; n < items.length; n++) {
        const line = JSON.stringify(encode(n));
        if (n >= spec.warmup) bytes[platform] += Buffer.byteLength(line);
        yield line;
      }
    };
    await writeLines(join(dir, `${platform}.jsonl`), lines());
  }
  const count = (kind: string): number => timed.filter((item) => item.kind === kind).length / timed.length;
  const meta: WorkloadMeta = {
    spec,
    expected: expectedCounts(timed),
    mix: { command: count('command'), mention: count('mention'), chatter: count('chatter') },
    bytes,
  };
  await writeFile(join(dir, 'meta.json'), JSON.stringify(meta, null, 2));
  return meta;
}

export async function readMeta(dir: string): Promise<WorkloadMeta> {
  return JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as WorkloadMeta;
}

/** Reads a platform's lines (one string per line, no big intermediate buffer), split into warm-up and timed. */
export async function readLines(dir: string, platform: Platform): Promise<{ warmup: string[]; timed: string[] }> {
  const meta = await readMeta(dir);
  const lines: string[] = [];
  const input = createInterface({ input: createReadStream(join(dir, `${platform}.jsonl`)), crlfDelay: Infinity });
  for await (const line of input) if (line !== '') lines.push(line);
  return { warmup: lines.slice(0, meta.spec.warmup), timed: lines.slice(meta.spec.warmup) };
}
