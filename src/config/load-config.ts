/**
 * Loads and validates the configuration file.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ChorusError } from '../errors.ts';
import { configSchema, type Config } from './config-schema.ts';

/**
 * Reads the YAML file at `path` and validates it.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID naming the file and, for a schema error, the field and the
 * reason (`config.yaml: bot.userId: must be a string of digits`).
 */
export function loadConfig(path: string): Config {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `${path}: ${reason}`, { cause: err });
  }
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `${path}: ${field}: ${issue?.message ?? 'invalid'}`, {
      cause: result.error,
    });
  }
  return result.data;
}
