/**
 * Temporary folders for a test file: each is made under os.tmpdir() and removed after the file's tests
 * (`afterAll`), with whatever the tests left in it (databases, recordings, configs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * Registers the clean-up and returns `make()`, which makes a new empty folder named `<prefix>XXXXXX` and
 * returns its path.
 *
 * @example
 * const tempDir = useTempDirs('chorus-inbox-');
 * const path = join(tempDir(), 'state.db');
 */
export function useTempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
