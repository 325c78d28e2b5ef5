/**
 * Loads and validates the configuration file.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ChorusError } from '../errors.ts';
import { configSchema, ENV_OVERRIDES, type Config } from './config-schema.ts';

/** Sets `value` at `path` inside `target`, creating objects on the way. */
function setPath(target: Record<string, unknown>, path: readonly string[], value: string | boolean): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    node = typeof child === 'object' && child !== null ? (child as Record<string, unknown>) : (node[key] = {});
  }
  node[path[path.length - 1] as string] = value;
}

/**
 * Reads the YAML file at `path`, applies the environment overrides of `ENV_OVERRIDES` found in `env`
 * (default: none; `true`/`false` as booleans for the boolean fields), and validates the result.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID naming the file and, for a schema error, the field and the
 * reason (`config.yaml: bot.userId: must be a string of digits`).
 */
export function loadConfig(path: string, env: Readonly<Record<string, string | undefined>> = {}): Config {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `${path}: ${reason}`, { cause: err });
  }
  const document = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  for (const [name, override] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const boolean = override.boolean === true && (value === 'true' || value === 'false');
    setPath(document, override.path, boolean ? value === 'true' : value);
  }
  const result = configSchema.safeParse(raw === null || raw === undefined ? document : raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `${path}: ${field}: ${issue?.message ?? 'invalid'}`, {
      cause: result.error,
    });
  }
  return result.data;
}
