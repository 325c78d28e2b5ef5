/**
 * What `chorus` loads: a command imports only its own modules (the idle daemon's memory depends on it; bench/
 * measures that memory, these tests only check which modules a real child process loaded); the CLI keeps
 * Node's module compile cache and sizes V8's helper threads to the cores.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { v8PoolSizeFlag } from '../src/daemon/v8-pool-size.ts';
import { createEmbeddedPod } from '../src/pod/create-embedded-pod.ts';
import { eventually, ROOT } from './support/chorus-child.ts';

let tmp: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'chorus-footprint-test-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

/** The environment of a child: this one's, without CHORUS_* overrides or compile cache settings. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('CHORUS_') && !name.startsWith('NODE_COMPILE_CACHE') && name !== 'NODE_DISABLE_COMPILE_CACHE'),
  );
  return { ...env, ...extra };
}

/** Starts `node --import <hook> src/daemon/cli.ts <args>`; at exit the hook writes every module URL resolved. */
function startRecorded(args: readonly string[], modulesFile: string): { exited: Promise<number | null>; stop: () => void } {
  const hook = join(tmp, 'record-modules.mjs');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const urls = new Set();
registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); urls.add(result.url); return result; } });
process.on('exit', () => writeFileSync(${JSON.stringify(modulesFile)}, [...urls].join('\\n')));
`,
  );
  const child = spawn(process.execPath, ['--no-warnings', '--import', hook, 'src/daemon/cli.ts', ...args], {
    cwd: ROOT,
    env: childEnv({}),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    exited: exited.then((code) => {
      if (code !== 0) throw new Error(`chorus ${args.join(' ')} exited ${code}:\n${stderr}`);
      return code;
    }),
    stop: () => child.kill('SIGTERM'),
  };
}

describe('chorus run against a pod, on the default SQLite backend, logging JSON lines', () => {
  it('never loads the Redis client, pino-pretty or the embedded pod', async () => {
    const keysDir = join(tmp, 'keys');
    const pod = await createEmbeddedPod({
      keysDir,
      users: [{ userId: '7000000000001', username: 'chorus-bot', displayName: 'Chorus Bot' }],
      streams: [],
    });
    cleanups.push(() => pod.close());
    const config = join(tmp, 'chorus.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        bot: { username: 'chorus-bot', privateKey: { path: join(keysDir, 'chorus-bot.pem') } },
        pod: { url: pod.url },
        agent: { url: pod.url },
        keyManager: { url: pod.url },
        http: { host: '127.0.0.1', port: 0 },
        state: { backend: 'sqlite', path: join(tmp, 'state.db') },
        listeners: join(ROOT, 'listeners'),
        log: { level: 'warn' },
      }),
    );
    const modulesFile = join(tmp, 'modules.txt');
    const daemon = startRecorded(['run', '--config', config], modulesFile);
    await eventually('the daemon reading its datafeed', () => (pod.stats().waitingReads > 0 ? true : undefined));
    daemon.stop();
    await daemon.exited;

    const modules = readFileSync(modulesFile, 'utf8').split('\n');
    // What it needs is there (the record is complete) ...
    expect(modules).toContainEqual(expect.stringMatching(/\/src\/state\/sqlite-inbox\.ts$/));
    expect(modules).toContainEqual(expect.stringMatching(/\/node_modules\/undici\//));
    expect(modules).toContainEqual(expect.stringMatching(/\/node_modules\/pino\//));
    // ... and what it does not need is not.
    expect(modules.filter((url) => /\/node_modules\/(?:redis|@redis|pino-pretty)\//.test(url))).toEqual([]);
    // (src/pod/pod-schemas.ts is the configuration's too: the embeddedPod schemas, zod only.)
    expect(modules.filter((url) => /\/src\/(?:pod\/(?!pod-schemas\.ts$)|state\/redis-|state\/memory-)/.test(url))).toEqual([]);
    expect(modules.filter((url) => /\/src\/daemon\/(?:replay|record|pod|dead-letters|message)-command/.test(url))).toEqual([]);
  });
});

describe('the chorus CLI', () => {
  it('keeps compiled modules in the compile cache under the temporary folder', async () => {
    const config = join(tmp, 'chorus.yaml');
    writeFileSync(config, 'bot: {}\nlog: { level: warn }\nstate: { backend: memory }\n');
    const temporary = join(tmp, 'tmp');
    const child = spawn(process.execPath, ['src/daemon/cli.ts', 'dead-letters', 'list', '--config', config], {
      cwd: ROOT,
      env: childEnv({ TMPDIR: temporary }),
      stdio: 'ignore',
    });
    expect(await new Promise((resolve) => child.once('close', resolve))).toBe(0);
    const cache = join(temporary, 'node-compile-cache');
    expect(existsSync(cache)).toBe(true);
    // One folder per Node version, holding an entry per module compiled.
    const entries = readdirSync(cache, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    expect(entries.length).toBeGreaterThan(10);
  });

  it('bin/chorus.js runs with V8\'s helper threads sized to the cores, or the size the user gave', async () => {
    const config = join(tmp, 'chorus.yaml');
    writeFileSync(config, 'bot: {}\nlog: { level: warn }\nstate: { backend: memory }\n');
    const seen = join(tmp, 'exec-argv.json');
    const hook = join(tmp, 'exec-argv.mjs');
    // Written by the process that ran the command: the one bin/chorus.js replaced itself with, if it did.
    writeFileSync(hook, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(seen)}, JSON.stringify(process.execArgv)));\n`);
    const execArgvOf = async (nodeOptions: string): Promise<string[]> => {
      const child = spawn(process.execPath, ['--import', hook, 'bin/chorus.js', 'dead-letters', 'list', '--config', config], {
        cwd: ROOT,
        env: childEnv({ NODE_OPTIONS: nodeOptions }),
        stdio: 'ignore',
      });
      expect(await new Promise((resolve) => child.once('close', resolve))).toBe(0);
      return JSON.parse(readFileSync(seen, 'utf8')) as string[];
    };
    const sizeFlags = (execArgv: readonly string[]): string[] => execArgv.filter((arg) => arg.startsWith('--v8-pool-size'));
    const expected = v8PoolSizeFlag([], '', availableParallelism());
    process.stdout.write(`v8 pool: ${availableParallelism()} cores available, expecting ${expected ?? 'Node\'s default (no flag)'}\n`);
    expect(sizeFlags(await execArgvOf(''))).toEqual(expected === undefined ? [] : [expected]);
    // A size in NODE_OPTIONS is the user's: no flag is added (NODE_OPTIONS is not part of execArgv).
    expect(sizeFlags(await execArgvOf('--v8-pool-size=2'))).toEqual([]);
  });

  it('bin/chorus.js, run warm, never loads Node\'s TypeScript stripper', async () => {
    const config = join(tmp, 'chorus.yaml');
    writeFileSync(config, 'bot: {}\nlog: { level: warn }\nstate: { backend: memory }\n');
    const loadList = join(tmp, 'load-list.json');
    const hook = join(tmp, 'load-list.mjs');
    // process.moduleLoadList names Node's internal modules as they load; amaro is the TypeScript stripper.
    writeFileSync(
      hook,
      `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(loadList)}, JSON.stringify(process.moduleLoadList)));\n`,
    );
    const start = async (): Promise<string[]> => {
      const child = spawn(process.execPath, ['--import', hook, 'bin/chorus.js', 'dead-letters', 'list', '--config', config], {
        cwd: ROOT,
        env: childEnv({ NODE_COMPILE_CACHE: join(tmp, 'cache') }),
        stdio: 'ignore',
      });
      expect(await new Promise((resolve) => child.once('close', resolve))).toBe(0);
      return JSON.parse(readFileSync(loadList, 'utf8')) as string[];
    };
    const stripper = (loaded: readonly string[]): string[] => loaded.filter((name) => name.includes('amaro'));
    // The first start strips the TypeScript sources (so the check below can fail) and fills the cache ...
    expect(stripper(await start())).not.toEqual([]);
    // ... the next takes them from it.
    expect(stripper(await start())).toEqual([]);
  });
});
