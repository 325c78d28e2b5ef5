/**
 * Fields of a wire event that chorus's schemas do not declare: a hint, logged at debug level, that the Agent API
 * sends something new (parseWireEvent drops such fields silently).
 */
import { z } from 'zod';
import { isEventType, PAYLOADS, v4EnvelopeSchema } from './wire-schema.ts';

/**
 * Lists the dotted paths of the fields of a wire event (`V4Event`) that the schemas of wire-schema.ts do not
 * declare, in the order they appear, e.g. `['payload.messageSent.message.newThing']`. Array items are numbered
 * (`payload.userRequestedToJoinRoom.affectedUsers.0.newThing`). Keys of `payload` other than the one of the
 * event's type are listed too. Values of the wrong type are not looked into (validation reports those).
 *
 * Returns `[]` for a value that is not an object or whose `type` is not one of the 17 known types. Meant for
 * debug logging: it walks the zod schemas beside the value and is not tuned for speed. Never throws.
 *
 * @example
 * listUnknownFields({ id: 'e1', type: 'ROOMDEACTIVATED', shiny: true, payload: { roomDeactivated: { stream: { streamId: 's' } } } });
 * // ['shiny']
 */
export function listUnknownFields(raw: unknown): string[] {
  if (!isRecord(raw)) return [];
  const type = raw['type'];
  if (typeof type !== 'string' || !isEventType(type)) return [];
  const { key, schema } = PAYLOADS[type];
  // The envelope declares `payload` as an open record; for this walk it holds just the key of the event's type.
  const eventSchema = v4EnvelopeSchema.extend({ payload: z.object({ [key]: schema }) });
  const unknown: string[] = [];
  walk(eventSchema, raw, '', unknown);
  return unknown;
}

/** Collects into `unknown` the paths under `path` of `value` that `schema` does not declare. */
function walk(schema: z.core.$ZodType, value: unknown, path: string, unknown: string[]): void {
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNonOptional ||
    schema instanceof z.ZodCatch ||
    schema instanceof z.ZodReadonly ||
    schema instanceof z.ZodLazy
  ) {
    walk(schema.unwrap(), value, path, unknown);
  } else if (schema instanceof z.ZodPipe) {
    walk(schema.in, value, path, unknown);
  } else if (schema instanceof z.ZodObject) {
    if (!isRecord(value)) return;
    const shape: Record<string, z.core.$ZodType> = schema.shape;
    const catchall = schema._zod.def.catchall;
    for (const [name, child] of Object.entries(value)) {
      const childPath = join(path, name);
      const declared = Object.hasOwn(shape, name) ? shape[name] : undefined;
      if (declared !== undefined) walk(declared, child, childPath, unknown);
      else if (catchall !== undefined && !(catchall instanceof z.ZodNever)) walk(catchall, child, childPath, unknown);
      else unknown.push(childPath);
    }
  } else if (schema instanceof z.ZodArray) {
    if (!Array.isArray(value)) return;
    (value as unknown[]).forEach((item, index) => walk(schema.element, item, join(path, String(index)), unknown));
  } else if (schema instanceof z.ZodRecord) {
    if (!isRecord(value)) return;
    for (const [name, child] of Object.entries(value)) walk(schema.valueType, child, join(path, name), unknown);
  } else if (schema instanceof z.ZodUnion) {
    // Walk with the option the value matches; with none, validation reports the value, not this walk.
    const options: readonly z.core.$ZodType[] = schema.options;
    const option = options.find((candidate) => z.safeParse(candidate, value).success);
    if (option !== undefined) walk(option, value, path, unknown);
  }
  // Anything else (string, number, unknown, ...) is a leaf: it has no fields.
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
