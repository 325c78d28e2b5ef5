/**
 * End to end over loopback: the embedded pod (this process) and the chorus daemon (`chorus run`, a child
 * process started exactly as a user starts it: `node bin/chorus.js run`, as `npm start` does), pointed at the pod by the CHORUS_*_URL variables). The pod
 * publishes the dispatch workload's messages (Symphony V4Events from the same generator, over the pod's own
 * users and 1,000 rooms) into the bot's datafeed at fixed rates and at full speed; the bench listener replies to
 * every command and mention (60% of the events). Latency: from the event entering the pod's feed
 * (`pod.publish`) to the reply arriving at the pod (`onMessage`), matched by the message id the reply names.
 *
 * Start: the daemon is started twice on a compile cache of its own (NODE_COMPILE_CACHE in the scratch dir): first on
 * the empty cache, as on a machine where chorus never ran (idle RSS and start-up measured, then stopped), then
 * the measured daemon, warm, as every later start is. Its idle RSS is read 2 s after its first datafeed read,
 * then once its idle trim ran (memory.trimWhenIdleMs at its default, IDLE_TRIM_MS: one memory-reducing GC
 * after that long without events), before the steps; and after the steps, 2 s after the load and once trimmed.
 *
 * Steps, in order: a warm-up, then 1k, 5k and 20k events/s for STEP_MS each, full speed (for FULL_SPEED_MS the
 * pod keeps the feed topped up, publishing whenever fewer than 2,000 events wait, so the daemon never waits for
 * events), then 5k events/s twice more: the latency goal's rate, whose p99 moves from one 10 s step to the next
 * on a shared 2-core machine, so the report takes the median of its three steps. A rate the daemon cannot
 * sustain skips every later step at that rate or above.
 *
 * Usage: e2e.ts <scratch dir> [--state default|memory|sqlite] [--concurrency <n>] [--quick] [--daemon-cpu-prof <dir>]
 * [--steps <list>] (the steps to run, in order, e.g. `5000,full`; default `1000,5000,20000,full,5000,5000`; with
 * --quick `1000,5000,20000,full`: to profile one step). Prints `BENCH_RESULT {...}`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../src/config/config-schema.ts';
import { sizeV8Pool } from '../../src/daemon/v8-pool-size.ts';
import { createEmbeddedPod } from '../../src/pod/create-embedded-pod.ts';
import { createSymphonyWorld, DEFAULT_SPEC, generateItems, SYMPHONY_BOT, toSymphonyEvent } from '../lib/workload.ts';
import type { Resident } from '../memory/footprint.ts';

// This process hosts the embedded pod, and runs as chorus runs it (`chorus pod`, through bin/chorus.js): with
// V8's helper threads sized to the cores. Node's default of 4 per process puts 8 helpers on a 2-core machine
// beside the two main threads (see src/daemon/v8-pool-size.ts). Replaces this process when the size differs.
sizeV8Pool();

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const scratch = args[0];
if (scratch === undefined) throw new Error('usage: e2e.ts <scratch dir> [--state default|memory|sqlite] [--quick]');
const stateArg = (args.includes('--state') ? args[args.indexOf('--state') + 1] : undefined) ?? 'default';
const quick = args.includes('--quick');
const daemonProfileDir = args.includes('--daemon-cpu-prof') ? args[args.indexOf('--daemon-cpu-prof') + 1] : undefined;
const stepsArg = (args.includes('--steps') ? args[args.indexOf('--steps') + 1] : undefined) ?? (quick ? '1000,5000,20000,full' : '1000,5000,20000,full,5000,5000');
/** The steps in order: an offered rate in events/s, or null for full speed. */
const stepRates = stepsArg.split(',').map((step) => (step === 'full' ? null : Number(step)));
if (stepRates.some((rate) => rate !== null && !(rate > 0))) throw new Error(`--steps: rates in events/s or "full", got ${stepsArg}`);
const STEP_MS = quick ? 2_000 : 10_000;
const FULL_SPEED_MS = quick ? 3_000 : 10_000;
/** Full speed keeps at most this many events waiting in the feed. */
const FULL_SPEED_BACKLOG = 2_000;
/** How long a step may take to get its replies after its last publish. */
const DRAIN_TIMEOUT_MS = 60_000;
/** The daemon's idle trim (memory.trimWhenIdleMs, at its default): one GC 1 to 1.5 × this after its last event. */
const IDLE_TRIM_MS = 10_000;
/** A fixed rate counts as sustained when the daemon kept up with this share of it. */
const SUSTAINED_SHARE = 0.9;

/** One measured step. */
export type StepResult = {
  readonly label: string;
  /** Offered rate, events/s; null for full speed. */
  readonly rate: number | null;
  /** Skipped: an earlier step at this rate or a lower one was not sustained. */
  readonly skipped?: boolean;
  readonly published: number;
  readonly expectedReplies: number;
  readonly replies: number;
  /** Events / (last reply - first publish). */
  readonly sustainedPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU of the daemon and of the pod (this process) over the step, % of one core. */
  readonly daemonCpuPct: number;
  readonly podCpuPct: number;
  readonly complete: boolean;
};

export type E2eResult = {
  readonly state: string;
  readonly config: unknown;
  /** Idle RSS of the measured daemon 2 s after its first read: a warm start (the compile cache as the first start left it). */
  readonly idleRssBytes: number;
  /** Its idle RSS once its idle trim ran (1.5 × IDLE_TRIM_MS + 1 s after the first read), before any event. */
  readonly idleRssTrimmedBytes: number;
  /** Of that, the private part (RssAnon: the heaps, stacks, buffers of this process alone). */
  readonly idleRssTrimmedPrivateBytes: number;
  /** Of that, the file-backed part (RssFile + RssShmem: mostly the pages of the node binary, shared with every Node process). */
  readonly idleRssTrimmedSharedBytes: number;
  /** Its idle RSS once its idle trim ran after the load. */
  readonly idleRssTrimmedAfterLoadBytes: number;
  /** The daemon's memory.trimWhenIdleMs. */
  readonly idleTrimMs: number;
  /** Idle RSS of the first start, on an empty compile cache. */
  readonly idleRssFirstStartBytes: number;
  readonly idleRssAfterLoadBytes: number;
  readonly peakRssBytes: number;
  readonly startupMs: number;
  readonly firstStartupMs: number;
  readonly stopMs: number;
  readonly exitCode: number | null;
  /** Length of each fixed-rate step and of the full-speed step, ms. */
  readonly stepMs: number;
  readonly fullSpeedMs: number;
  readonly steps: readonly StepResult[];
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ the world, the templates, the pod
const spec = { ...DEFAULT_SPEC, warmup: 0, timed: 20_000 };
const world = createSymphonyWorld(spec);
type Template = { readonly expectsReply: boolean; readonly event: { payload: { messageSent: { message: Record<string, unknown> } } } };
const templates: Template[] = generateItems(spec).map((item) => ({
  expectsReply: item.kind !== 'chatter',
  event: toSymphonyEvent(world, item) as Template['event'],
}));

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const publicKeyPem = keys.publicKey;

type StepStats = {
  published: number;
  expected: number;
  replies: number;
  lastReplyAt: number;
  latencies: number[];
};
const pending = new Map<string, { readonly at: number; readonly stats: StepStats }>();
const REPLY = /re:([A-Za-z0-9_-]+)/;
const BOT_ID = Number(SYMPHONY_BOT.userId);

const pod = await createEmbeddedPod({
  users: [
    { userId: SYMPHONY_BOT.userId, username: 'chorus-bot', displayName: SYMPHONY_BOT.displayName, publicKeyPem },
    ...world.users.map((user) => ({ userId: user.userId, username: user.username ?? user.userId, displayName: user.displayName, publicKeyPem })),
  ],
  streams: world.rooms.map((room, i) => ({
    streamId: room.streamId,
    streamType: 'ROOM' as const,
    roomName: room.roomName,
    members: [SYMPHONY_BOT.userId, ...[0, 1, 2].map((k) => (world.users[(i + k) % world.users.length] as { userId: string }).userId)],
  })),
  onMessage: (message) => {
    if (message.user.userId !== BOT_ID) return;
    const id = REPLY.exec(message.message)?.[1];
    const sent = id === undefined ? undefined : pending.get(id);
    if (sent === undefined || id === undefined) return;
    pending.delete(id);
    const now = performance.now();
    sent.stats.latencies.push(now - sent.at);
    sent.stats.replies += 1;
    sent.stats.lastReplyAt = now;
  },
});

// ------------------------------------------------------------------ the daemon
const hasStateConfig = 'state' in configSchema.shape;
const config: Record<string, unknown> = {
  bot: { username: 'chorus-bot' },
  listeners: join(ROOT, 'bench/e2e/listeners'),
  http: { host: '127.0.0.1', port: 0 },
  log: { level: 'warn' },
  ...('memory' in configSchema.shape ? { memory: { trimWhenIdleMs: IDLE_TRIM_MS } } : {}),
};
const concurrencyArg = args.includes('--concurrency') ? Number(args[args.indexOf('--concurrency') + 1]) : undefined;
if (hasStateConfig) {
  config['state'] = {
    ...(stateArg === 'default' ? {} : { backend: stateArg }),
    path: join(scratch, 'state.db'),
    ...(concurrencyArg === undefined ? {} : { concurrency: concurrencyArg }),
  };
}
const configPath = join(scratch, 'daemon.yaml');
writeFileSync(configPath, JSON.stringify(config, null, 2));

const clockTicks = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile' | 'RssShmem'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(line?.replace(/\D+/g, '') ?? 0) * 1024;
}

/** A process's resident memory, from /proc/<pid>/status. */
function residentOf(pid: number): Resident {
  return {
    rssBytes: procStatus(pid, 'VmRSS'),
    privateBytes: procStatus(pid, 'RssAnon'),
    sharedBytes: procStatus(pid, 'RssFile') + procStatus(pid, 'RssShmem'),
  };
}
const NOT_RUNNING: Resident = { rssBytes: 0, privateBytes: 0, sharedBytes: 0 };

function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

const profileFlags = daemonProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', daemonProfileDir];
// Node's module compile cache of the daemons started here: empty at the first start, as on a machine where
// chorus never ran, and as that start left it for the measured daemon (every later start).
const compileCacheDir = join(scratch, 'compile-cache');

/** A started daemon: its process, the tail of its stderr, and its exit code once it exited. */
type Daemon = {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  readonly log: string[];
  exitCode: number | null | undefined;
  readonly exited: Promise<void>;
};

/** Starts `chorus run` as a user does (`node bin/chorus.js run`), pointed at the pod. */
function startDaemon(flags: readonly string[]): Daemon {
  const startedAt = performance.now();
  const child = spawn(process.execPath, [...flags, join(ROOT, 'bin/chorus.js'), 'run', '--config', configPath], {
    cwd: scratch,
    env: {
      ...process.env,
      CHORUS_POD_URL: pod.url,
      CHORUS_AGENT_URL: pod.url,
      CHORUS_KEY_MANAGER_URL: pod.url,
      CHORUS_BOT_PRIVATE_KEY: keys.privateKey,
      NODE_COMPILE_CACHE: compileCacheDir,
      NODE_NO_WARNINGS: '1',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    log.push(chunk);
    if (log.length > 200) log.shift();
  });
  const started: Daemon = {
    child,
    pid: child.pid as number,
    startedAt,
    log,
    exitCode: undefined,
    exited: new Promise<void>((resolve) =>
      child.once('exit', (code) => {
        started.exitCode = code;
        resolve();
      }),
    ),
  };
  return started;
}

/** Polls `done` every `pollMs` (pod.stats() copies every stream's message list: poll it gently). */
async function waitFor(what: string, done: () => boolean, timeoutMs: number, pollMs = 5, of: Daemon = daemon): Promise<boolean> {
  for (const deadline = performance.now() + timeoutMs; performance.now() < deadline; await sleep(pollMs)) {
    if (done()) return true;
    if (of.exitCode !== undefined) throw new Error(`the daemon exited (${of.exitCode}) while waiting for ${what}:\n${of.log.join('').slice(-4000)}`);
  }
  return false;
}

/** Waits for the daemon's first datafeed read; then, 2 s later, its start-up time and idle RSS. */
async function idleAfterStart(of: Daemon): Promise<{ startupMs: number; idleRssBytes: number }> {
  if (!(await waitFor('its first datafeed read', () => pod.stats().waitingReads >= 1, 60_000, 50, of))) {
    throw new Error(`the daemon did not start reading within 60 s:\n${of.log.join('').slice(-4000)}`);
  }
  const startupMs = performance.now() - of.startedAt;
  await sleep(2_000);
  return { startupMs, idleRssBytes: procStatus(of.pid, 'VmRSS') };
}

/** Resident memory once the daemon's idle trim ran, its last activity (start-up, or an event) being no later than `since` (performance.now()). */
async function residentAfterIdleTrim(of: Daemon, since: number): Promise<Resident> {
  await sleep(Math.max(0, since + IDLE_TRIM_MS * 1.5 + 1_000 - performance.now()));
  return of.exitCode === undefined ? residentOf(of.pid) : NOT_RUNNING;
}

// The first start, on the empty compile cache: measured idle, then stopped.
const first = startDaemon([]);
const firstStart = await idleAfterStart(first);
first.child.kill('SIGTERM');
await first.exited;
await waitFor('the first daemon to let its read go', () => pod.stats().waitingReads === 0, 60_000, 50, first);
// The measured daemon: a warm start.
const daemon = startDaemon(profileFlags);
const { pid } = daemon;
const { startupMs, idleRssBytes } = await idleAfterStart(daemon);
const idleTrimmed = await residentAfterIdleTrim(daemon, daemon.startedAt + startupMs);

// ------------------------------------------------------------------ publishing
let sequence = 0;
function publishOne(stats: StepStats): void {
  const template = templates[sequence % templates.length] as Template;
  sequence += 1;
  const messageId = `bench${sequence.toString(36).padStart(29, '0')}`;
  const now = Date.now();
  const message = { ...template.event.payload.messageSent.message, messageId, timestamp: now };
  const event = { ...template.event, id: `b${sequence.toString(36)}`, timestamp: now, payload: { messageSent: { message } } };
  if (template.expectsReply) {
    pending.set(messageId, { at: performance.now(), stats });
    stats.expected += 1;
  }
  pod.publish(event, [SYMPHONY_BOT.userId]);
  stats.published += 1;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function runStep(label: string, rate: number | null, durationMs: number): Promise<StepResult> {
  const stats: StepStats = { published: 0, expected: 0, replies: 0, lastReplyAt: 0, latencies: [] };
  const podCpu0 = process.cpuUsage();
  const daemonCpu0 = procCpuMs(pid);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - t0;
      if (elapsed >= durationMs) {
        resolve();
        return;
      }
      if (rate === null) {
        const { published, delivered } = pod.stats();
        for (let backlog = published - delivered; backlog < FULL_SPEED_BACKLOG; backlog += 1) publishOne(stats);
        setTimeout(tick, 20);
        return;
      }
      const due = Math.floor((rate * elapsed) / 1000);
      while (stats.published < due) publishOne(stats);
      setTimeout(tick, 1);
    };
    tick();
  });
  const complete = await waitFor(`the replies of ${label}`, () => stats.replies >= stats.expected, DRAIN_TIMEOUT_MS);
  const end = complete ? stats.lastReplyAt : performance.now();
  const wallMs = end - t0;
  const podCpu = process.cpuUsage(podCpu0);
  const daemonCpuMs = procCpuMs(pid) - daemonCpu0;
  // Let the feed drain (the bot's own echoes, trailing chatter) before the next step.
  await waitFor(`the feed to drain after ${label}`, () => pod.stats().waitingReads >= 1, DRAIN_TIMEOUT_MS, 50);
  for (const [id, sent] of pending) if (sent.stats === stats) pending.delete(id);
  const sorted = stats.latencies.sort((a, b) => a - b);
  return {
    label,
    rate,
    published: stats.published,
    expectedReplies: stats.expected,
    replies: stats.replies,
    sustainedPerSec: (stats.published * 1000) / wallMs,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? Number.NaN,
    daemonCpuPct: (daemonCpuMs / wallMs) * 100,
    podCpuPct: ((podCpu.user + podCpu.system) / 1000 / wallMs) * 100,
    complete,
  };
}

function skippedStep(label: string, rate: number): StepResult {
  const nan = Number.NaN;
  return {
    label, rate, skipped: true, published: 0, expectedReplies: 0, replies: 0, sustainedPerSec: nan,
    p50Ms: nan, p99Ms: nan, maxMs: nan, daemonCpuPct: nan, podCpuPct: nan, complete: false,
  };
}

const steps: StepResult[] = [];
try {
  await runStep('warm-up', 2_000, 3_000);
  let unsustained = Number.POSITIVE_INFINITY; // the lowest rate not sustained so far
  for (const rate of stepRates) {
    if (rate === null) {
      steps.push(await runStep('full speed', null, FULL_SPEED_MS));
      continue;
    }
    const runs = steps.filter((step) => step.rate === rate).length;
    const label = `${rate / 1000}k events/s${runs === 0 ? '' : ` #${runs + 1}`}`;
    if (rate >= unsustained) {
      steps.push(skippedStep(label, rate));
      continue;
    }
    const step = await runStep(label, rate, STEP_MS);
    steps.push(step);
    if (!step.complete || step.sustainedPerSec < rate * SUSTAINED_SHARE) unsustained = rate;
    await sleep(300);
  }
} finally {
  await sleep(2_000);
  const idleRssAfterLoadBytes = daemon.exitCode === undefined ? procStatus(pid, 'VmRSS') : 0;
  const peakRssBytes = daemon.exitCode === undefined ? procStatus(pid, 'VmHWM') : 0;
  const idleRssTrimmedAfterLoadBytes = (await residentAfterIdleTrim(daemon, performance.now() - 2_000)).rssBytes;
  const stopAt = performance.now();
  daemon.child.kill('SIGTERM');
  const killer = setTimeout(() => daemon.child.kill('SIGKILL'), 15_000);
  await daemon.exited;
  clearTimeout(killer);
  const stopMs = performance.now() - stopAt;
  await pod.close();
  const state = hasStateConfig ? (stateArg === 'default' ? `default (${String((configSchema.parse({ bot: {} }) as { state?: { backend?: string } }).state?.backend ?? '?')})` : stateArg) : 'memory (no state config)';
  const result: E2eResult = {
    state,
    config,
    idleRssBytes,
    idleRssTrimmedBytes: idleTrimmed.rssBytes,
    idleRssTrimmedPrivateBytes: idleTrimmed.privateBytes,
    idleRssTrimmedSharedBytes: idleTrimmed.sharedBytes,
    idleRssTrimmedAfterLoadBytes,
    idleTrimMs: IDLE_TRIM_MS,
    idleRssFirstStartBytes: firstStart.idleRssBytes,
    idleRssAfterLoadBytes,
    peakRssBytes,
    startupMs,
    firstStartupMs: firstStart.startupMs,
    stopMs,
    exitCode: daemon.exitCode ?? null,
    stepMs: STEP_MS,
    fullSpeedMs: FULL_SPEED_MS,
    steps,
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
}
