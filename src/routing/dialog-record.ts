/**
 * The stored state of a dialog: where it is (its answers and how many of its messages went out), kept as JSON
 * under the user's dialog key of the conversation (`dialogStateKey`), so it survives a restart and continues on
 * any instance sharing the store.
 */
import type { JsonValue } from '../state/json-value.ts';
import type { RoutedMessageContext } from './event-context.ts';
import { sharedContextOf } from './listener-view.ts';

/**
 * One user's dialog in one conversation. `id` is the id of the message that started it, so a write can tell
 * its own dialog from one started since. Times are event timestamps, ms since the epoch.
 */
export type DialogRecord = {
  readonly v: 1;
  readonly id: string;
  /** The listener that registered the dialog, and its start pattern as registered (`/order`). */
  readonly listener: string;
  readonly pattern: string;
  /** The command word, for messages to the user (`Your /order dialog timed out.`). */
  readonly name: string;
  readonly args: { readonly [name: string]: JsonValue };
  /**
   * What each question was (kind, question, choices), to tell when a replay asks differently: every answered
   * one, then the one the dialog waits on (so one more than `answers` while it waits).
   */
  readonly steps: readonly string[];
  /** The accepted answers, in order (`yes`/`no` for a confirm). */
  readonly answers: readonly string[];
  /** The results of `d.once`, in order. */
  readonly results: readonly JsonValue[];
  /** How many messages of the dialog's deterministic sequence (replies and questions) were sent. */
  readonly sent: number;
  readonly startedAt: number;
  readonly lastActivityAt: number;
  readonly timeoutMs: number;
  /** The last message the dialog handled: its redelivery resumes the dialog rather than answering again. */
  readonly lastMessageId: string;
};

const isStrings = (value: unknown): value is readonly string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * The dialog record in a stored value, or `undefined` when there is none or the value is not one (another
 * version's, or damaged: such a value is ignored, and the next dialog start overwrites it).
 */
export function toDialogRecord(value: JsonValue | undefined): DialogRecord | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as { readonly [key: string]: JsonValue | undefined };
  const ok =
    r.v === 1 &&
    typeof r.id === 'string' &&
    typeof r.listener === 'string' &&
    typeof r.pattern === 'string' &&
    typeof r.name === 'string' &&
    typeof r.args === 'object' &&
    r.args !== null &&
    !Array.isArray(r.args) &&
    isStrings(r.steps) &&
    isStrings(r.answers) &&
    r.steps.length >= r.answers.length &&
    r.steps.length <= r.answers.length + 1 &&
    Array.isArray(r.results) &&
    isCount(r.sent) &&
    isCount(r.startedAt) &&
    isCount(r.lastActivityAt) &&
    isCount(r.timeoutMs) &&
    typeof r.lastMessageId === 'string';
  return ok ? (value as DialogRecord) : undefined;
}

/** True when the dialog waited longer than its timeout: `lastActivityAt + timeoutMs < now`. */
export function isExpired(record: DialogRecord, now: number): boolean {
  return record.lastActivityAt + record.timeoutMs < now;
}

// One read per event, shared by every pipeline that asks (each listener's answers, /cancel, the mention
// fallback), so they all decide on the dialog as it was before the event, whatever one of them writes.
// Keyed by the shared context of the dispatch (behind every listener view), which is made anew for each
// dispatch of an event, so an event dispatched again reads again.
const reads = new WeakMap<object, Promise<DialogRecord | undefined>>();

/**
 * The dialog of the event's user in its conversation as it was before the event (one store read per event).
 * @throws ChorusError CHORUS_ERR_STATE_UNAVAILABLE when the store fails.
 */
export function readDialog(view: RoutedMessageContext): Promise<DialogRecord | undefined> {
  const key = sharedContextOf(view);
  let read = reads.get(key);
  if (read === undefined) {
    read = view.dialogState.get().then(toDialogRecord);
    reads.set(key, read);
  }
  return read;
}

/** Thrown inside `update` to store nothing: the stored dialog is not the one being saved. */
class Superseded extends Error {}

/**
 * Stores `record` if the stored dialog is still the one it continues (same `id`); atomic through the store's
 * `update`. Resolves false when the dialog was cancelled or replaced meanwhile (nothing stored).
 */
export async function saveDialog(view: RoutedMessageContext, record: DialogRecord): Promise<boolean> {
  try {
    await view.dialogState.update<JsonValue>((current) => {
      if (toDialogRecord(current)?.id !== record.id) throw new Superseded('dialog replaced or ended');
      return record;
    });
    return true;
  } catch (err) {
    if (err instanceof Superseded) return false;
    throw err;
  }
}

/**
 * Deletes the stored dialog if it is still the one with `id`. Read, then delete: not atomic, so a dialog that
 * another instance starts in between for the same user and stream could be deleted (events of one
 * conversation are handled in order, so within one instance this cannot happen).
 */
export async function endDialog(view: RoutedMessageContext, id: string): Promise<void> {
  const current = toDialogRecord(await view.dialogState.get());
  if (current?.id === id) await view.dialogState.delete();
}
