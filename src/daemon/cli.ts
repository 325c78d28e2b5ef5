/**
 * The chorus command line: `node src/daemon/cli.ts <command> …` (`npm run chorus -- <command> …`).
 * Exit codes: 0 done; 1 a runtime error (printed as `chorus: <message>`); 2 a bad call (usage printed).
 *
 * Memory: this module imports only what parsing the command line needs; the configuration loader, the logger
 * and the command run are imported once the command is known, so a command loads only its own modules (the
 * daemon no Redis client unless configured, no pino-pretty off a terminal, no embedded pod unless configured).
 * The usual entry point is bin/chorus.js (npm start, npm run chorus), which enables Node's module compile
 * cache before any TypeScript loads; run directly, this module enables it before those imports (it and
 * errors.ts are stripped first, so Node's TypeScript stripper is loaded then, about 15 MB more RSS).
 */
import { enableCompileCache } from 'node:module';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.ts';
import { ChorusError, isChorusError } from '../errors.ts';

export const USAGE = `usage: chorus <command> [options]

commands:
  run [--config <file>]
      Run the bot. With the default config (config/default.yaml) it starts the embedded pod with a
      demo room and users and shows the conversation; with a config naming a real pod it connects there.
      GET /healthz and GET /metrics are served on the config's http host and port.
  replay <feed> [--listeners <dir>] [--bot-user-id <id>] [--bot-name <name>]
      Run a recorded feed through the listener modules of <dir> (default: the config's
      "listeners", listeners/) and print every outgoing message on stdout as one JSON
      object a line: {"streamId": "...", "message": "<messageML>...</messageML>", ...}.
      Logs go to stderr. Feed formats: JSON Lines of V4Event objects; a datafeed read
      response {"events": [...], "ackId": "..."}; JSON Lines of read responses.
  pod [--port <p>]
      Run the embedded pod alone (users and streams from the config's embeddedPod).
  say --pod <url> --stream <streamId> --as <username> [--key <file>] "<MessageML or text>"
      Post a message as a user (key: --key, else <embeddedPod.keysDir>/<username>.pem).
  messages --pod <url> --stream <streamId> [--as <username>] [--key <file>] [--limit <n>]
      Print the stream's messages, one JSON object a line (as: default the config's bot).
  record --config <file> --out <feed.jsonl> [--limit <n>]
      Record the bot's live datafeed to a file that replay reads, until SIGINT or <n> events.
  dead-letters [list | retry <id> | drop <id>]
      Show the dead letters of the config's state backend (one JSON object a line), queue one
      again, or delete it.

options:
  --config <file>      configuration file (default: config/default.yaml of this package)
  --log-level <level>  trace, debug, info, warn, error, fatal or silent (default: the config's)
  -h, --help           print this help
`;

const DEFAULT_CONFIG = new URL('../../config/default.yaml', import.meta.url).pathname;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Where the CLI writes. */
export type CliIo = { readonly stdout: Writable & { isTTY?: boolean }; readonly stderr: Writable };

const OPTIONS = {
  listeners: { type: 'string' },
  'bot-user-id': { type: 'string' },
  'bot-name': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  port: { type: 'string' },
  pod: { type: 'string' },
  stream: { type: 'string' },
  as: { type: 'string' },
  key: { type: 'string' },
  limit: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/**
 * The options and the number of positional arguments each command takes (besides --config, --log-level,
 * --help); -1: the command checks its own.
 */
const COMMANDS: Readonly<Record<string, { options: readonly (keyof Values)[]; positionals: number }>> = {
  run: { options: [], positionals: 0 },
  replay: { options: ['listeners', 'bot-user-id', 'bot-name'], positionals: 1 },
  pod: { options: ['port'], positionals: 0 },
  say: { options: ['pod', 'stream', 'as', 'key'], positionals: 1 },
  messages: { options: ['pod', 'stream', 'as', 'key', 'limit'], positionals: 0 },
  record: { options: ['out', 'limit'], positionals: 0 },
  'dead-letters': { options: [], positionals: -1 },
};

function usageError(reason: string): ChorusError {
  return new ChorusError('CHORUS_ERR_USAGE', reason);
}

function parseCommandLine(argv: readonly string[]): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
}

function need(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') throw usageError(`${command} needs --${flag}`);
  return value;
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw usageError(`--${flag} must be a whole number`);
  return Number(value);
}

function levelOf(values: Values, config: Config): (typeof LEVELS)[number] {
  const level = values['log-level'];
  if (level === undefined) return config.log.level;
  if (!(LEVELS as readonly string[]).includes(level)) throw usageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  return level as (typeof LEVELS)[number];
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [command, ...args] = positionals;
  if (command === undefined) throw usageError('no command given');
  const spec = COMMANDS[command];
  if (spec === undefined) throw usageError(`unknown command ${command}`);
  const foreign = (Object.keys(values) as (keyof Values)[]).filter(
    (name) => !['config', 'log-level', 'help', ...spec.options].includes(name),
  );
  if (foreign.length > 0) throw usageError(`${command} does not take --${foreign.join(', --')}`);
  if (spec.positionals >= 0 && args.length < spec.positionals) {
    throw usageError(`${command} needs ${spec.positionals === 1 ? 'an argument' : 'arguments'}`);
  }
  if (spec.positionals >= 0 && args.length > spec.positionals) {
    throw usageError(`unexpected argument ${args.slice(spec.positionals).join(' ')}`);
  }
  const botUserId = values['bot-user-id'];
  if (botUserId !== undefined && !/^\d+$/.test(botUserId)) throw usageError('--bot-user-id must be digits');
  const port = positiveInt(values.port, 'port');
  const limit = positiveInt(values.limit, 'limit');
  const { loadConfig } = await import('../config/load-config.ts');
  const config = loadConfig(values.config ?? DEFAULT_CONFIG, process.env);
  const level = levelOf(values, config);
  const { createLogger, createPrettyDestination, createStdoutDestination } = await import('../logger.ts');
  const stderrLog = (): Logger => createLogger({ level });
  const keysDir = config.embeddedPod?.keysDir ?? 'var/pod/keys';

  switch (command) {
    case 'replay': {
      const userId = botUserId ?? config.bot.userId;
      if (userId === undefined) throw usageError('replay needs the bot user id: --bot-user-id, or bot.userId in the config');
      const { replayCommand } = await import('./replay-command.ts');
      await replayCommand({
        feed: resolve(args[0] ?? ''),
        listenersDir: values.listeners ?? config.listeners,
        bot: { userId, displayName: values['bot-name'] ?? config.bot.displayName ?? config.bot.username ?? 'Chorus Bot' },
        log: stderrLog(),
        stdout: io.stdout,
      });
      return 0;
    }
    case 'run': {
      // The daemon's logs are its output: pretty on a terminal, JSON lines otherwise.
      const destination = io.stdout.isTTY === true ? await createPrettyDestination() : createStdoutDestination();
      const { runCommand } = await import('./run-command.ts');
      return runCommand(config, createLogger({ level, destination }));
    }
    case 'pod': {
      const log = io.stdout.isTTY === true ? createLogger({ level, destination: await createPrettyDestination() }) : stderrLog();
      const { podCommand } = await import('./pod-command.ts');
      return podCommand(config, port, log);
    }
    case 'say':
    case 'messages': {
      const options = {
        podUrl: need(values.pod, 'pod', command),
        streamId: need(values.stream, 'stream', command),
        username: command === 'say' ? need(values.as, 'as', command) : (values.as ?? config.bot.username ?? need(undefined, 'as', command)),
        keyPath: values.key,
        keysDir,
        log: stderrLog(),
        stdout: io.stdout,
      };
      const { messagesCommand, sayCommand } = await import('./message-commands.ts');
      if (command === 'say') await sayCommand({ ...options, message: args[0] ?? '' });
      else await messagesCommand({ ...options, ...(limit === undefined ? {} : { limit }) });
      return 0;
    }
    case 'dead-letters': {
      const [action = 'list', id, ...extra] = args;
      if (action !== 'list' && action !== 'retry' && action !== 'drop') throw usageError(`unknown dead-letters action ${action}`);
      if (action === 'list' ? id !== undefined || extra.length > 0 : id === undefined || extra.length > 0) {
        throw usageError(action === 'list' ? 'dead-letters list takes no argument' : `dead-letters ${action} takes one id`);
      }
      const { deadLettersCommand } = await import('./dead-letters-command.ts');
      return deadLettersCommand({ config, action, id, stdout: io.stdout, log: stderrLog() });
    }
    default: {
      if (values.config === undefined) throw usageError('record needs --config <file> naming the pod to record from');
      const { recordCommand } = await import('./record-command.ts');
      await recordCommand({ config, out: need(values.out, 'out', command), limit, log: stderrLog() });
      return 0;
    }
  }
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code; never throws.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    if (isChorusError(err, 'CHORUS_ERR_USAGE')) {
      io.stderr.write(`chorus: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`chorus: ${message}\n`);
    return 1;
  }
}

if (import.meta.main) {
  // In os.tmpdir()/node-compile-cache unless NODE_COMPILE_CACHE names a folder; NODE_DISABLE_COMPILE_CACHE=1
  // turns it off. An entry is used only for the same file content and the same Node.
  enableCompileCache();
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
