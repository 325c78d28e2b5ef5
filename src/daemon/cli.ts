/**
 * The chorus command line: `node src/daemon/cli.ts <command> …` (`npm run chorus -- <command> …`).
 * Exit codes: 0 done; 1 a runtime error (printed as `chorus: <message>`); 2 a bad call (usage printed).
 */
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { ChorusError, isChorusError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { replayCommand } from './replay-command.ts';

export const USAGE = `usage: chorus <command> [options]

commands:
  replay <feed> [--listeners <dir>] [--bot-user-id <id>] [--bot-name <name>]
         [--config <file>] [--log-level <level>]
      Run a recorded feed through the listener modules of <dir> (default: the config's
      "listeners", listeners/) and print every outgoing message on stdout as one JSON
      object a line: {"streamId": "...", "message": "<messageML>...</messageML>", ...}.
      Logs go to stderr. Feed formats: JSON Lines of V4Event objects; a datafeed read
      response {"events": [...], "ackId": "..."}; JSON Lines of read responses.
      The bot identity defaults to the config's bot (config/default.yaml).

options:
  --config <file>      configuration file (default: config/default.yaml of this package)
  --log-level <level>  trace, debug, info, warn, error, fatal or silent (default: the config's)
  -h, --help           print this help
`;

const DEFAULT_CONFIG = new URL('../../config/default.yaml', import.meta.url).pathname;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Where the CLI writes. */
export type CliIo = { readonly stdout: Writable; readonly stderr: Writable };

function usageError(reason: string): ChorusError {
  return new ChorusError('CHORUS_ERR_USAGE', reason);
}

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        listeners: { type: 'string' },
        'bot-user-id': { type: 'string' },
        'bot-name': { type: 'string' },
        config: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command !== 'replay') throw usageError(command === undefined ? 'no command given' : `unknown command ${command}`);
  const [feed, ...extra] = rest;
  if (feed === undefined) throw usageError('replay needs a feed file');
  if (extra.length > 0) throw usageError(`unexpected argument ${extra.join(' ')}`);
  const botUserId = values['bot-user-id'];
  if (botUserId !== undefined && !/^\d+$/.test(botUserId)) throw usageError('--bot-user-id must be digits');
  const level = values['log-level'];
  if (level !== undefined && !(LEVELS as readonly string[]).includes(level)) {
    throw usageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  }

  const config = loadConfig(values.config ?? DEFAULT_CONFIG, process.env);
  const log = createLogger({ level: (level as (typeof LEVELS)[number] | undefined) ?? config.log.level });
  const userId = botUserId ?? config.bot.userId;
  if (userId === undefined) throw usageError('replay needs the bot user id: --bot-user-id, or bot.userId in the config');
  await replayCommand({
    feed: resolve(feed),
    listenersDir: values.listeners ?? config.listeners,
    bot: { userId, displayName: values['bot-name'] ?? config.bot.displayName ?? config.bot.username ?? 'Chorus Bot' },
    log,
    stdout: io.stdout,
  });
  return 0;
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
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
