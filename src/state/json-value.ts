/**
 * JSON values: what the conversation store keeps. Checked at `set`, so a value that cannot round-trip through
 * JSON is a clear error at the call and never a corrupt store.
 */
import { ChorusError } from '../errors.ts';

/** A value that survives `JSON.stringify` → `JSON.parse` unchanged. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Serializes `value` to JSON after checking that every part of it is a JSON value: null, a boolean, a finite
 * number, a string, an array or a plain object of those. `undefined` inside an array or object, functions,
 * symbols, bigints, NaN/Infinity, class instances (Date, Map, …) and cycles are rejected.
 *
 * @throws ChorusError CHORUS_ERR_STATE_VALUE naming the path of the first offending part, e.g. `$.items[2]`.
 */
export function toJsonText(value: unknown): string {
  assertJsonValue(value, '$', new Set());
  return JSON.stringify(value);
}

function assertJsonValue(value: unknown, path: string, seen: Set<object>): void {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) reject(path, `${String(value)} is not a finite number`);
    return;
  }
  if (typeof value !== 'object') reject(path, `a ${typeof value} is not JSON`);
  if (seen.has(value)) reject(path, 'the value refers to itself (a cycle)');
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => assertJsonValue(item, `${path}[${index}]`, seen));
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) reject(path, 'only plain objects are JSON (not class instances)');
    for (const [key, item] of Object.entries(value)) assertJsonValue(item, `${path}.${key}`, seen);
  }
  seen.delete(value);
}

function reject(path: string, reason: string): never {
  throw new ChorusError('CHORUS_ERR_STATE_VALUE', `state value at ${path} is not JSON-serializable: ${reason}`);
}
