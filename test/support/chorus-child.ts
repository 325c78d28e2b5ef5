/**
 * The chorus CLI in a child process, as a user runs it: `node bin/chorus.js …` (what npm start and
 * npm run chorus run) on the Node running the tests (the Node 24 of node_modules/.bin under `npm test`),
 * cwd = the repository, stdout and stderr piped (so not a TTY: logs are JSON lines). Output is kept raw and as parsed JSON lines; `eventually` polls for a state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository root. */
export const ROOT = new URL('../..', import.meta.url).pathname;

/** One line of output: the parsed JSON object, or `undefined` when the line is not JSON. */
export type OutputLine = { readonly raw: string; readonly json: Record<string, unknown> | undefined };

/** How a child ended: `code` is null when a signal killed it. */
export type Exit = { readonly code: number | null; readonly signal: NodeJS.Signals | null };

/** A running (or ended) chorus child process. */
export type ChorusChild = {
  readonly process: ChildProcess;
  /** Everything written so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Complete lines written so far, in order. */
  readonly stdoutLines: () => readonly OutputLine[];
  readonly stderrLines: () => readonly OutputLine[];
  /** Resolves once the process has exited (and its pipes are closed). */
  readonly exited: Promise<Exit>;
  /** Sends a signal (no-op once exited). */
  readonly signal: (signal: NodeJS.Signals) => void;
  /** True until the process has exited. */
  readonly running: () => boolean;
};

function toLine(raw: string): OutputLine {
  try {
    const value: unknown = JSON.parse(raw);
    return { raw, json: typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined };
  } catch {
    return { raw, json: undefined };
  }
}

function collect(stream: NodeJS.ReadableStream | null): { text: () => string; lines: () => OutputLine[] } {
  let text = '';
  const lines: OutputLine[] = [];
  let partial = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) if (part !== '') lines.push(toLine(part));
  });
  stream?.on('end', () => {
    if (partial !== '') lines.push(toLine(partial));
    partial = '';
  });
  return { text: () => text, lines: () => lines };
}

/** The environment of children: this one's, without the CHORUS_* overrides the config loader reads. */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CHORUS_')));
}

const started = new Set<ChorusChild>();

/** Starts `chorus <args>`; `killStarted` ends it if it still runs. */
export function startChorus(args: readonly string[]): ChorusChild {
  const child = spawn(process.execPath, ['bin/chorus.js', ...args], { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const exited = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const handle: ChorusChild = {
    process: child,
    stdout: out.text,
    stderr: err.text,
    stdoutLines: out.lines,
    stderrLines: err.lines,
    exited,
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    running: () => child.exitCode === null && child.signalCode === null,
  };
  started.add(handle);
  return handle;
}

/** Runs `chorus <args>` to its end. */
export async function runChorus(args: readonly string[]): Promise<Exit & { stdout: string; stderr: string; stdoutLines: readonly OutputLine[] }> {
  const child = startChorus(args);
  const exit = await child.exited;
  return { ...exit, stdout: child.stdout(), stderr: child.stderr(), stdoutLines: child.stdoutLines() };
}

/**
 * Polls `probe` every 25 ms until it returns something other than `undefined`, and returns that. Throws after
 * `timeoutMs` (default 10_000) with `what` and, when given, `context()` (e.g. the output so far).
 */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs?: number; context?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${options.context === undefined ? '' : `\n--- output so far ---\n${options.context()}`}`);
    }
    await sleep(25);
  }
}

/**
 * Waits for the first line of the child's stdout (or `stream`) that `match` accepts, among the lines from
 * index `since` on (default 0); fails early when the child exits first. Default timeout: 10_000 ms.
 */
export function waitForLine(
  child: ChorusChild,
  what: string,
  match: (json: Record<string, unknown>) => boolean,
  options: { stream?: 'stdout' | 'stderr'; since?: number; timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  const lines = options.stream === 'stderr' ? child.stderrLines : child.stdoutLines;
  let exitedAt: number | undefined;
  return eventually(
    what,
    () => {
      const found = lines()
        .slice(options.since ?? 0)
        .find((line) => line.json !== undefined && match(line.json))?.json;
      if (found !== undefined) return found;
      // Give the pipes a moment to deliver the last lines, then stop waiting for a process that is gone.
      if (!child.running()) {
        exitedAt ??= Date.now();
        if (Date.now() - exitedAt > 500) throw new Error(`the child exited before ${what}\n${child.stdout()}\n${child.stderr()}`);
      }
      return undefined;
    },
    { timeoutMs: options.timeoutMs ?? 10_000, context: () => `${child.stdout()}\n${child.stderr()}` },
  );
}

/** Kills every child `startChorus` started that still runs (SIGKILL), and waits for all to exit. For afterEach. */
export async function killStarted(): Promise<void> {
  const children = [...started];
  started.clear();
  await Promise.all(
    children.map(async (child) => {
      child.signal('SIGKILL');
      await child.exited;
    }),
  );
}
