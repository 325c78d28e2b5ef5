/**
 * V8's helper threads sized to the machine. Node starts 4 of them in every process, whatever the number of
 * cores (`--v8-pool-size`, default 4); they run concurrent marking, parallel scavenges and background
 * compilation. On a small machine they outnumber the cores: on 2 cores, a daemon and the pod beside it start
 * 8, and when both collect garbage at once the helpers take the cores from the main threads, the only ones
 * that handle events. Measured in the end-to-end bench at 5k events/s on 2 cores (3 interleaved pairs):
 * p99 18.5–20.5 ms with Node's default, 8.4–9.3 ms with one helper per process; full speed unchanged.
 *
 * So chorus runs with one helper fewer than the cores it may use (`os.availableParallelism()`), at least 1 and
 * at most Node's default: what Node itself picks for `--v8-pool-size=0`, capped at the default on larger
 * machines. The pool is fixed when Node starts, so a process that needs another size replaces itself
 * (`process.execve`, same pid, same arguments and environment) with one started with the flag. A size given
 * by the user (`--v8-pool-size` on the command line or in NODE_OPTIONS) is kept as it is.
 */
import { availableParallelism } from 'node:os';
import process from 'node:process';

/** Node's own `--v8-pool-size` when none is given. */
export const NODE_DEFAULT_V8_POOL_SIZE = 4;

/** The helper threads for a machine of `parallelism` usable cores: one fewer, at least 1, at most Node's default. */
export function toV8PoolSize(parallelism: number): number {
  return Math.min(NODE_DEFAULT_V8_POOL_SIZE, Math.max(1, parallelism - 1));
}

/**
 * The flag a process started with `execArgv` and `nodeOptions` (NODE_OPTIONS) must be started again with, e.g.
 * `--v8-pool-size=1` on 2 cores; undefined when it names a size already, or when Node's default is the size.
 */
export function v8PoolSizeFlag(execArgv: readonly string[], nodeOptions: string, parallelism: number): string | undefined {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => arg === '--v8-pool-size' || arg.startsWith('--v8-pool-size='));
  const size = toV8PoolSize(parallelism);
  return given || size === NODE_DEFAULT_V8_POOL_SIZE ? undefined : `--v8-pool-size=${size}`;
}

/**
 * Replaces this process with one whose V8 pool is sized to the machine, when it needs another size (see the
 * module comment); returns when it does not, or where `process.execve` is missing (Windows). Call it first,
 * before the process opens anything: the new process starts from the beginning.
 *
 * @example
 * sizeV8Pool(); // in a program's entry point, before it starts its work
 */
export function sizeV8Pool(): void {
  const flag = v8PoolSizeFlag(process.execArgv, process.env['NODE_OPTIONS'] ?? '', availableParallelism());
  if (flag === undefined || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [process.execPath, flag, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
