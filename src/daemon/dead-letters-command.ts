/**
 * `chorus dead-letters [list | retry <id> | drop <id>]`: shows and manages the dead letters of the configured
 * state backend (events that failed `state.maxAttempts` times, and malformed events).
 */
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.ts';
import { ChorusError } from '../errors.ts';
import { openStateBackend } from '../state/open-state-backend.ts';

/**
 * `list` prints one JSON object a line (`id`, `conversationId`, `dedupeKey`, `attempts`, `code`, `error`,
 * `failedAt`, `wire`); `retry <id>` queues the event again at the end of its conversation (a running daemon
 * picks it up within its sweep interval, a stopped one at its next start); `drop <id>` deletes it.
 * Resolves with the exit code: 0, or 1 when the id is unknown.
 *
 * @throws ChorusError CHORUS_ERR_STATE_OPEN when the backend cannot be opened; CHORUS_ERR_STATE_VALUE when
 * retrying a malformed event.
 */
export async function deadLettersCommand(options: {
  readonly config: Config;
  readonly action: 'list' | 'retry' | 'drop';
  readonly id: string | undefined;
  readonly stdout: Writable;
  readonly log: Logger;
}): Promise<number> {
  const backend = await openStateBackend(options.config.state, options.log);
  try {
    const { inbox } = backend;
    if (options.action === 'list') {
      for (const letter of await inbox.deadLetters()) options.stdout.write(`${JSON.stringify(letter)}\n`);
      return 0;
    }
    const id = options.id;
    if (id === undefined) throw new ChorusError('CHORUS_ERR_USAGE', `dead-letters ${options.action} needs an id`);
    const found = options.action === 'retry' ? await inbox.retry(id) : await inbox.drop(id);
    options.stdout.write(`${JSON.stringify({ id, [options.action === 'retry' ? 'retried' : 'dropped']: found })}\n`);
    return found ? 0 : 1;
  } finally {
    await backend.close();
  }
}
