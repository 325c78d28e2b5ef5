import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChorusError, ERROR_CODES, isChorusError, RequeueEvent } from './errors.ts';

describe('error codes', () => {
  it('lists exactly the codes of docs/errors.md, with the same kinds', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `(CHORUS_ERR_[A-Z_]+)` \| ([a-z-]+) \|/gm)];
    const documented: Record<string, string | undefined> = Object.fromEntries(
      rows.map((m): [string, string] => [m[1] ?? '', m[2] ?? '']),
    );
    expect(documented).toEqual({ ...ERROR_CODES });
  });

  it('keeps the code and the cause', () => {
    const cause = new Error('root');
    const err = new ChorusError('CHORUS_ERR_FEED_INVALID', 'bad feed', { cause });
    expect(isChorusError(err, 'CHORUS_ERR_FEED_INVALID')).toBe(true);
    expect(isChorusError(err, 'CHORUS_ERR_USAGE')).toBe(false);
    expect(err.cause).toBe(cause);
  });

  it('makes RequeueEvent a ChorusError with the requeue code', () => {
    const err = new RequeueEvent('later');
    expect(isChorusError(err, 'CHORUS_ERR_REQUEUE')).toBe(true);
    expect(err).toBeInstanceOf(RequeueEvent);
  });
});
