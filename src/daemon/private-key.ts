/**
 * The bot's private key from the configuration.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config-schema.ts';
import { ChorusError } from '../errors.ts';

/**
 * The PEM text of `bot.privateKey`: its `content`, else the file at its `path`.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID naming `bot.privateKey` when neither is set or the file
 * cannot be read.
 */
export function readPrivateKey(config: Config): string {
  const key = config.bot.privateKey;
  if (key?.content !== undefined) return key.content;
  if (key?.path === undefined) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', 'bot.privateKey: needs path or content to connect to a pod');
  }
  try {
    return readFileSync(key.path, 'utf8');
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `bot.privateKey.path: cannot read ${key.path}`, { cause: err });
  }
}
