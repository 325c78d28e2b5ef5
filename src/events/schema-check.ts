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
 *
 * The predicate is generated JavaScript (one function per object schema, checks inlined), as zod itself does
 * for its objects (zod v4 `jit`): nested closures cost about five times as much on a message event.
 */
import { z } from 'zod';

/** True when `value` passes the schema unchanged. */
export type SchemaCheck = (value: unknown) => boolean;

type Check = z.core.$ZodCheck<never>;

/** The generated source: one function per object schema, and the values those functions refer to. */
type Program = {
  readonly functions: string[];
  /** Passed to the generated code as `$[i]` (regular expressions, helpers). */
  readonly values: unknown[];
  /** Object schemas already generated, to their function name (a schema used twice is generated once). */
  readonly named: Map<z.core.$ZodType, string>;
};

/**
 * Compiles `schema` into a {@link SchemaCheck}; `undefined` when the schema uses anything the compiler does
 * not know (see the module comment).
 *
 * @example
 * const isUser = compileSchemaCheck(v4UserSchema);
 * const user = isUser(raw) ? (raw as V4User) : v4UserSchema.parse(raw);
 */
export function compileSchemaCheck(schema: z.core.$ZodType): SchemaCheck | undefined {
  const program: Program = { functions: [], values: [isRecordValue], named: new Map() };
  const root = expressionOf(schema, 'v', program);
  if (root === undefined) return undefined;
  const source = `${program.functions.join('\n')}\nreturn function check(v) { return ${root}; };`;
  // The source is built only from this module's templates and JSON-quoted object keys of our own schemas.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const build = new Function('$', source) as (values: unknown[]) => SchemaCheck;
  return build(program.values);
}

/** A boolean JavaScript expression testing the value in variable `v` against `schema`, or undefined. */
function expressionOf(schema: z.core.$ZodType, v: string, program: Program): string | undefined {
  const ctor = schema.constructor;
  const def = schema._zod.def;
  if (ctor === z.ZodString) return stringExpression(def as z.core.$ZodStringDef, v, program);
  if (ctor === z.ZodNumber) return numberExpression(def as z.core.$ZodNumberDef, v);
  if (hasChecks(def)) return undefined; // the classes below take no checks from wire-schema.ts
  if (ctor === z.ZodBoolean) return `typeof ${v} === 'boolean'`;
  if (ctor === z.ZodUnknown) return 'true';
  if (ctor === z.ZodOptional) {
    const inner = expressionOf((def as z.core.$ZodOptionalDef).innerType, v, program);
    return inner && `(${v} === undefined || ${inner})`;
  }
  if (ctor === z.ZodNullable) {
    const inner = expressionOf((def as z.core.$ZodNullableDef).innerType, v, program);
    return inner && `(${v} === null || ${inner})`;
  }
  if (ctor === z.ZodUnion) return unionExpression(def as z.core.$ZodUnionDef, v, program);
  if (ctor === z.ZodArray) {
    const element = functionOf((def as z.core.$ZodArrayDef).element, program);
    return element && `(Array.isArray(${v}) && ${v}.every(${element}))`;
  }
  if (ctor === z.ZodObject) {
    const name = objectFunction(schema, def as z.core.$ZodObjectDef, program);
    return name && `${name}(${v})`;
  }
  if (ctor === z.ZodRecord) return recordExpression(def as z.core.$ZodRecordDef, v);
  return undefined;
}

function hasChecks(def: z.core.$ZodTypeDef): boolean {
  return def.checks !== undefined && def.checks.length > 0;
}

/** The name of a generated function testing its argument against `schema`. */
function functionOf(schema: z.core.$ZodType, program: Program): string | undefined {
  if (schema.constructor === z.ZodObject) return objectFunction(schema, schema._zod.def as z.core.$ZodObjectDef, program);
  const body = expressionOf(schema, 'v', program);
  if (body === undefined) return undefined;
  const name = `f${program.functions.length}`;
  program.functions.push(`function ${name}(v) { return ${body}; }`);
  return name;
}

/** A non-array object whose known keys pass; unknown keys are stripped by zod, so anything goes for them. */
function objectFunction(schema: z.core.$ZodType, def: z.core.$ZodObjectDef, program: Program): string | undefined {
  const known = program.named.get(schema);
  if (known !== undefined) return known;
  if (def.catchall !== undefined) return undefined;
  const lines: string[] = [];
  for (const [i, [key, field]] of Object.entries(def.shape).entries()) {
    const check = expressionOf(field, `k${i}`, program);
    if (check === undefined) return undefined;
    lines.push(`const k${i} = v[${JSON.stringify(key)}]; if (!(${check})) return false;`);
  }
  const name = `f${program.functions.length}`;
  program.named.set(schema, name);
  program.functions.push(
    `function ${name}(v) {\n  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;\n  ${lines.join('\n  ')}\n  return true;\n}`,
  );
  return name;
}

/** `typeof v === 'string'`, then `min_length` and `regex` checks (zod's `.min()`, `.regex()`). */
function stringExpression(def: z.core.$ZodStringDef, v: string, program: Program): string | undefined {
  if (def.coerce === true) return undefined;
  const parts = [`typeof ${v} === 'string'`];
  for (const check of def.checks ?? []) {
    const compiled = stringCheckExpression(check, v, program);
    if (compiled === undefined) return undefined;
    parts.push(compiled);
  }
  return parts.length === 1 ? parts[0] : `(${parts.join(' && ')})`;
}

function stringCheckExpression(check: Check, v: string, program: Program): string | undefined {
  const checkDef = check._zod.def as z.core.$ZodCheckDef & { readonly check: string };
  if (checkDef.check === 'min_length') {
    const { minimum } = checkDef as z.core.$ZodCheckMinLengthDef;
    // zod counts code points; a string of at least twice as many UTF-16 units has enough of them for sure,
    // and one with fewer units has too few. In between, let zod count (stricter is allowed).
    return `${v}.length >= ${2 * minimum}`;
  }
  if (checkDef.check === 'string_format') {
    const { format, pattern } = checkDef as z.core.$ZodCheckStringFormatDef;
    if (format !== 'regex' || pattern === undefined) return undefined;
    const at = program.values.push(pattern) - 1;
    return `($[${at}].lastIndex = 0, $[${at}].test(${v}))`; // lastIndex reset as zod does, for /g and /y
  }
  return undefined;
}

/**
 * A finite number, then at most one `safeint` (zod's `.int()`) and one `greater_than` (`.nonnegative()`,
 * `.min()`) check.
 */
function numberExpression(def: z.core.$ZodNumberDef, v: string): string | undefined {
  if (def.coerce === true) return undefined;
  let safeint = false;
  let bound: string | undefined;
  for (const check of def.checks ?? []) {
    const checkDef = check._zod.def as z.core.$ZodCheckDef & { readonly check: string };
    if (checkDef.check === 'number_format' && (checkDef as z.core.$ZodCheckNumberFormatDef).format === 'safeint') {
      safeint = true;
    } else if (checkDef.check === 'greater_than' && bound === undefined) {
      const { value, inclusive } = checkDef as z.core.$ZodCheckGreaterThanDef;
      if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
      bound = `${v} ${inclusive ? '>=' : '>'} ${value}`;
    } else {
      return undefined;
    }
  }
  const type = safeint ? `Number.isSafeInteger(${v})` : `(typeof ${v} === 'number' && Number.isFinite(${v}))`;
  return bound === undefined ? type : `(${type} && ${bound})`;
}

/** Any option passes (an inclusive union: `z.xor` and discriminated unions are other classes). */
function unionExpression(def: z.core.$ZodUnionDef, v: string, program: Program): string | undefined {
  if ((def as { readonly inclusive?: boolean }).inclusive === false) return undefined;
  const options: string[] = [];
  for (const option of def.options) {
    const compiled = expressionOf(option, v, program);
    if (compiled === undefined) return undefined;
    options.push(compiled);
  }
  return `(${options.join(' || ')})`;
}

/** `z.record(z.string(), z.unknown())`: a plain object (as zod tells one) without symbol keys. */
function recordExpression(def: z.core.$ZodRecordDef, v: string): string | undefined {
  const { keyType, valueType } = def;
  if (keyType.constructor !== z.ZodString || hasChecks(keyType._zod.def) || valueType.constructor !== z.ZodUnknown) {
    return undefined;
  }
  return `$[0](${v})`;
}

/** A plain object (zod/v4/core/util.js `isPlainObject`) without symbol keys: what zod's record accepts. */
function isRecordValue(value: unknown): boolean {
  return isPlainObject(value) && Object.getOwnPropertySymbols(value).length === 0;
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
