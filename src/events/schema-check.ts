/**
 * Plain predicates compiled from zod schemas, for speed on the hot path: `parseWireEvent` asks the predicate
 * first and runs zod only for a value it does not pass (zod then gives the data or the error, as before).
 *
 * A compiled predicate is never looser than its schema: it passes only values the schema accepts and leaves
 * unchanged (the schema's output is the input, less unknown object keys). It may be stricter; zod decides
 * those values. The compiler knows a few zod classes exactly (the ones wire-schema.ts uses) and gives up, so
 * that the caller keeps zod alone, on anything else: another class (e.g. `z.email()`, `exactOptional`,
 * `z.xor`), coercion, a catchall, a check it does not know (refinements, transforms, string formats but
 * `regex`). Checked against zod by schema-check.property.test.ts.
 */
import { z } from 'zod';

/** True when `value` passes the schema unchanged. */
export type SchemaCheck = (value: unknown) => boolean;

type Check = z.core.$ZodCheck<never>;

/**
 * Compiles `schema` into a {@link SchemaCheck}; `undefined` when the schema uses anything the compiler does
 * not know (see the module comment).
 *
 * @example
 * const isUser = compileSchemaCheck(v4UserSchema);
 * const user = isUser(raw) ? (raw as V4User) : v4UserSchema.parse(raw);
 */
export function compileSchemaCheck(schema: z.core.$ZodType): SchemaCheck | undefined {
  const ctor = schema.constructor;
  const def = schema._zod.def;
  if (ctor === z.ZodString) return compileString(def as z.core.$ZodStringDef);
  if (ctor === z.ZodNumber) return compileNumber(def as z.core.$ZodNumberDef);
  if (hasChecks(def)) return undefined; // the classes below take no checks from wire-schema.ts
  if (ctor === z.ZodBoolean) return (value) => typeof value === 'boolean';
  if (ctor === z.ZodUnknown) return () => true;
  if (ctor === z.ZodOptional) {
    const inner = compileSchemaCheck((def as z.core.$ZodOptionalDef).innerType);
    if (inner === isNullableString) return isNullishString; // the common `.nullish()` string, in one call
    return inner && ((value) => value === undefined || inner(value));
  }
  if (ctor === z.ZodNullable) {
    const inner = compileSchemaCheck((def as z.core.$ZodNullableDef).innerType);
    if (inner === isString) return isNullableString;
    return inner && ((value) => value === null || inner(value));
  }
  if (ctor === z.ZodUnion) return compileUnion(def as z.core.$ZodUnionDef);
  if (ctor === z.ZodArray) {
    const element = compileSchemaCheck((def as z.core.$ZodArrayDef).element);
    return element && ((value) => Array.isArray(value) && value.every(element));
  }
  if (ctor === z.ZodObject) return compileObject(def as z.core.$ZodObjectDef);
  if (ctor === z.ZodRecord) return compileRecord(def as z.core.$ZodRecordDef);
  return undefined;
}

function hasChecks(def: z.core.$ZodTypeDef): boolean {
  return def.checks !== undefined && def.checks.length > 0;
}

/** `typeof value === 'string'`, then `min_length` and `regex` checks (zod's `.min()`, `.regex()`). */
function compileString(def: z.core.$ZodStringDef): SchemaCheck | undefined {
  if (def.coerce === true) return undefined;
  const checks: SchemaCheck[] = [];
  for (const check of def.checks ?? []) {
    const compiled = compileStringCheck(check);
    if (compiled === undefined) return undefined;
    checks.push(compiled);
  }
  if (checks.length === 0) return isString;
  return (value) => typeof value === 'string' && checks.every((check) => check(value));
}

const isString: SchemaCheck = (value) => typeof value === 'string';
const isNullableString: SchemaCheck = (value) => value === null || typeof value === 'string';
const isNullishString: SchemaCheck = (value) => value === undefined || value === null || typeof value === 'string';

function compileStringCheck(check: Check): SchemaCheck | undefined {
  const checkDef = check._zod.def as z.core.$ZodCheckDef & { readonly check: string };
  if (checkDef.check === 'min_length') {
    const { minimum } = checkDef as z.core.$ZodCheckMinLengthDef;
    // zod counts code points; a string of at least twice as many UTF-16 units has enough of them for sure,
    // and one with fewer units has too few. In between, let zod count (stricter is allowed).
    return (value) => (value as string).length >= 2 * minimum;
  }
  if (checkDef.check === 'string_format') {
    const { format, pattern } = checkDef as z.core.$ZodCheckStringFormatDef;
    if (format !== 'regex' || pattern === undefined) return undefined;
    return (value) => {
      pattern.lastIndex = 0; // as zod does, for /g and /y patterns
      return pattern.test(value as string);
    };
  }
  return undefined;
}

/**
 * A finite number, then at most one `safeint` (zod's `.int()`) and one `greater_than` (`.nonnegative()`,
 * `.min()`) check.
 */
function compileNumber(def: z.core.$ZodNumberDef): SchemaCheck | undefined {
  if (def.coerce === true) return undefined;
  let safeint = false;
  let bound: { readonly value: number; readonly inclusive: boolean } | undefined;
  for (const check of def.checks ?? []) {
    const checkDef = check._zod.def as z.core.$ZodCheckDef & { readonly check: string };
    if (checkDef.check === 'number_format' && (checkDef as z.core.$ZodCheckNumberFormatDef).format === 'safeint') {
      safeint = true;
    } else if (checkDef.check === 'greater_than' && bound === undefined) {
      const { value, inclusive } = checkDef as z.core.$ZodCheckGreaterThanDef;
      if (typeof value !== 'number') return undefined;
      bound = { value, inclusive };
    } else {
      return undefined;
    }
  }
  const inRange = (value: number): boolean =>
    bound === undefined || (bound.inclusive ? value >= bound.value : value > bound.value);
  return safeint
    ? (value) => Number.isSafeInteger(value) && inRange(value as number)
    : (value) => typeof value === 'number' && Number.isFinite(value) && inRange(value);
}

/** Any option passes (an inclusive union: `z.xor` and discriminated unions are other classes). */
function compileUnion(def: z.core.$ZodUnionDef): SchemaCheck | undefined {
  if ((def as { readonly inclusive?: boolean }).inclusive === false) return undefined;
  const options: SchemaCheck[] = [];
  for (const option of def.options) {
    const compiled = compileSchemaCheck(option);
    if (compiled === undefined) return undefined;
    options.push(compiled);
  }
  return (value) => options.some((option) => option(value));
}

/** A non-array object whose known keys pass; unknown keys are stripped by zod, so anything goes for them. */
function compileObject(def: z.core.$ZodObjectDef): SchemaCheck | undefined {
  if (def.catchall !== undefined) return undefined;
  const fields: { readonly key: string; readonly check: SchemaCheck }[] = [];
  for (const [key, field] of Object.entries(def.shape)) {
    const check = compileSchemaCheck(field);
    if (check === undefined) return undefined;
    fields.push({ key, check });
  }
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const record = value as Record<string, unknown>;
    for (const field of fields) if (!field.check(record[field.key])) return false;
    return true;
  };
}

/** `z.record(z.string(), z.unknown())`: a plain object (as zod tells one) without symbol keys. */
function compileRecord(def: z.core.$ZodRecordDef): SchemaCheck | undefined {
  const { keyType, valueType } = def;
  if (keyType.constructor !== z.ZodString || hasChecks(keyType._zod.def) || valueType.constructor !== z.ZodUnknown) {
    return undefined;
  }
  return (value) => isPlainObject(value) && Object.getOwnPropertySymbols(value).length === 0;
}

/** zod's own test of a plain object (zod/v4/core/util.js `isPlainObject`). */
function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const ctor: unknown = (value as { constructor?: unknown }).constructor;
  if (ctor === undefined || typeof ctor !== 'function') return true;
  const prototype: unknown = (ctor as { prototype?: unknown }).prototype;
  if (typeof prototype !== 'object' || prototype === null || Array.isArray(prototype)) return false;
  return Object.hasOwn(prototype, 'isPrototypeOf');
}
