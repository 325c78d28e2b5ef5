/**
 * Loads the listener modules of a folder.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ChorusError } from '../errors.ts';
import { defineListener, type ListenerModule } from '../routing/listener.ts';

const MODULE = /\.(?:ts|mts|js|mjs)$/;
const NOT_A_LISTENER = /\.(?:test|spec)\.[cm]?[jt]s$|\.d\.[cm]?ts$/;

/**
 * Imports every module file of `dir` (`.ts`, `.mts`, `.js`, `.mjs`; not `*.test.*`, `*.spec.*`, `*.d.ts`;
 * not sub-folders) in file-name order and returns their default exports. TypeScript runs through Node's
 * type stripping, so listener modules use erasable syntax only.
 *
 * @throws ChorusError CHORUS_ERR_LISTENER_INVALID when the folder cannot be read, a module fails to import,
 * or its default export is not a `defineListener(...)` object; the message names the file.
 */
export async function loadListeners(dir: string): Promise<ListenerModule[]> {
  const folder = resolve(dir);
  let files: string[];
  try {
    files = readdirSync(folder, { withFileTypes: true })
      .filter((entry) => entry.isFile() && MODULE.test(entry.name) && !NOT_A_LISTENER.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', `cannot read the listeners folder ${folder}`, { cause: err });
  }
  const listeners: ListenerModule[] = [];
  for (const file of files) {
    const path = join(folder, file);
    let module: { default?: unknown };
    try {
      module = (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', `${path}: cannot import: ${reason}`, { cause: err });
    }
    try {
      listeners.push(defineListener(module.default as ListenerModule));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', `${path}: the default export is not a listener: ${reason}`, {
        cause: err,
      });
    }
  }
  return listeners;
}
