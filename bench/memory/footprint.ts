/**
 * The floor under the daemon's idle RSS: the resident memory of Node alone, of Node with chorus's base
 * dependencies imported (rxjs, undici, zod, pino: the brief's chosen base, on every event's path), and of
 * Node with every package `chorus run` loads with its default (SQLite) state: the runtime dependencies of
 * package.json but `redis` (loaded for the Redis backend only) and `pino-pretty` (pretty logs only), and
 * node:sqlite. What the daemon's idle RSS has above the last is chorus's own: its code, its heap, its
 * connections and its SQLite.
 *
 * Each set is imported by a fresh `node --input-type=module` process run from the project root (so packages
 * resolve as the daemon's do, not to bench/'s own copies), as ES modules with Node's compile cache warm (a
 * first run fills it, as a warm start of the daemon finds it); RSS (/proc/self/status VmRSS, with its private
 * part RssAnon and its file-backed part RssFile + RssShmem) is read after two full GCs and the memory-reducing
 * GC of the daemon's idle trim, so the floor compares with the daemon's idle RSS after its trim. Median of
 * RUNS processes (by VmRSS).
 *
 * Run with a scratch folder argument (for the compile cache); prints `BENCH_RESULT {...}`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = 3;
/** Runtime dependencies `chorus run` does not load with its default state, and why. */
const NOT_LOADED_IDLE: Readonly<Record<string, string>> = { redis: 'Redis backend only', 'pino-pretty': 'pretty logs only' };
const BASE = ['rxjs', 'undici', 'zod', 'pino'];

/** A process's resident memory, bytes: all of it (VmRSS), its private part (RssAnon) and its file-backed part (RssFile + RssShmem). */
export type Resident = { readonly rssBytes: number; readonly privateBytes: number; readonly sharedBytes: number };
/** One set's figures. */
export type FootprintSet = Resident & { readonly label: string; readonly imports: readonly string[] };
export type FootprintResult = { readonly sets: readonly FootprintSet[]; readonly notLoaded: Readonly<Record<string, string>> };

const CHILD = `
const modules = JSON.parse(process.argv[1]);
for (const name of modules) await import(name);
await new Promise((resolve) => setTimeout(resolve, 200));
globalThis.gc(); globalThis.gc();
// The daemon's idle trim (src/daemon/idle-trim.ts): a memory-reducing GC, which also shrinks the young generation.
const { Session } = await import('node:inspector/promises');
const session = new Session();
session.connect();
await session.post('HeapProfiler.collectGarbage');
session.disconnect();
await new Promise((resolve) => setTimeout(resolve, 200));
const { readFileSync } = await import('node:fs');
const status = readFileSync('/proc/self/status', 'utf8');
const kB = (field) => Number(new RegExp(field + ':\\\\s+(\\\\d+) kB').exec(status)[1]) * 1024;
console.log(JSON.stringify({ rssBytes: kB('VmRSS'), privateBytes: kB('RssAnon'), sharedBytes: kB('RssFile') + kB('RssShmem') }));
`;

function residentOf(imports: readonly string[], compileCache: string): Resident {
  const run = (): Resident => {
    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, JSON.stringify(imports)], {
      cwd: ROOT,
      env: { ...process.env, NODE_COMPILE_CACHE: compileCache, NODE_NO_WARNINGS: '1' },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`importing ${imports.join(', ')} failed: ${child.stderr}`);
    return JSON.parse(child.stdout) as Resident;
  };
  run(); // fills the compile cache
  const figures = Array.from({ length: RUNS }, run).sort((a, b) => a.rssBytes - b.rssBytes);
  return figures[Math.floor(RUNS / 2)] as Resident;
}

const scratch = process.argv[2];
if (scratch === undefined) throw new Error('usage: footprint.ts <scratch dir>');
const compileCache = join(scratch, 'footprint-compile-cache');
const dependencies = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
const loaded = [...dependencies.filter((name) => !(name in NOT_LOADED_IDLE)), 'node:sqlite'];
const sets: FootprintSet[] = [
  { label: 'Node alone', imports: [] },
  { label: `Node + ${BASE.join(', ')}`, imports: BASE },
  { label: 'Node + every package the daemon loads', imports: loaded },
].map((set) => ({ ...set, ...residentOf(set.imports, compileCache) }));

const result: FootprintResult = { sets, notLoaded: NOT_LOADED_IDLE };
process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
