/**
 * The replay engine of dialogs (as grammY's conversations plugin): each message of the dialog's user runs the
 * dialog function again from the top against its stored record. Recorded answers and `once` results are
 * returned at once, messages already sent are not sent again, and the first unanswered question either takes
 * the message as its answer or is sent, and the run waits there.
 *
 * Waiting is a promise that never settles: the function stays suspended inside `await d.ask(...)` until it is
 * garbage-collected, so no sentinel error runs through the author's `catch` or `finally` blocks. The runner
 * races the function against a signal raised when the run stops.
 */
import { ChorusError, isChorusError } from '../errors.ts';
import { ml, textToMessageML, type MessageML } from '../reply/messageml.ts';
import { toJsonText, type JsonValue } from '../state/json-value.ts';
import type { AskOptions, Dialog, DialogContent, DialogFunction } from './dialog.ts';
import { endDialog, saveDialog, type DialogRecord } from './dialog-record.ts';
import type { RoutedMessageContext } from './event-context.ts';
import type { MessageContext } from './listener.ts';
import type { CompiledPattern } from './pattern.ts';

/** A dialog as registered by `bot.dialog`. */
export type DialogDefinition = {
  readonly listener: string;
  readonly pattern: CompiledPattern;
  readonly timeoutMs: number;
  readonly run: DialogFunction<never>;
};

/** Why a run stopped before its function returned. */
type Stop =
  | { readonly kind: 'waiting' }
  | { readonly kind: 'superseded' }
  | { readonly kind: 'diverged'; readonly step: number }
  | { readonly kind: 'failed'; readonly error: unknown };

type Outcome = Stop | { readonly kind: 'returned' } | { readonly kind: 'threw'; readonly error: unknown };

const YES = new Set(['yes', 'y']);
const NO = new Set(['no', 'n']);

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

const fragment = (content: DialogContent): MessageML =>
  typeof content === 'string' ? textToMessageML(content) : content;

/** The reprompt, then the question on the next line. */
const reask = (reprompt: DialogContent, question: DialogContent): MessageML =>
  ml`${fragment(reprompt)}<br/>${fragment(question)}`;

const listChoices = (choices: readonly string[]): string =>
  choices.length === 1 ? (choices[0] as string) : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1) as string}`;

function checkChoices(choices: readonly string[]): void {
  const seen = new Set<string>();
  const valid =
    Array.isArray(choices) &&
    choices.length > 0 &&
    choices.every((choice) => {
      if (typeof choice !== 'string' || choice.trim() === '') return false;
      const key = choice.trim().toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  if (!valid) {
    throw new ChorusError(
      'CHORUS_ERR_DIALOG_INVALID',
      `d.ask choices must be a non-empty list of distinct non-blank strings, got ${JSON.stringify(choices)}`,
    );
  }
}

/** One question as the dialog asked it. */
type Question = {
  readonly kind: 'ask' | 'confirm';
  readonly question: DialogContent;
  readonly choices: readonly string[] | undefined;
  /** The answer as recorded, or `undefined` when `text` is not a valid answer. */
  readonly accept: (text: string) => string | undefined;
  readonly reprompt: DialogContent;
};

/**
 * Runs `definition` for `view` (the start command or an answer) from `record`. `answer` is the message's
 * answer to the question the dialog waits on, `undefined` for a start or to resume after a redelivery.
 * Stores the record when the run waits, deletes it when the function returns.
 *
 * A function that throws, or asks differently than recorded (CHORUS_ERR_DIALOG_REPLAY), ends the dialog: the
 * error is logged (`dialog failed and was ended`, with `err`, `listener` and `dialog`) and the user told.
 *
 * @throws ChorusError CHORUS_ERR_REQUEUE, CHORUS_ERR_STATE_UNAVAILABLE, CHORUS_ERR_STATE_CONFLICT or
 * CHORUS_ERR_REPLY_FAILED, from the function or the engine, with the dialog kept as before the event: the
 * event fails and is tried again (durable inbox) or dead-lettered.
 */
export async function runDialog(input: {
  readonly view: RoutedMessageContext;
  readonly definition: DialogDefinition;
  readonly record: DialogRecord;
  readonly answer: string | undefined;
}): Promise<void> {
  const { view, definition } = input;
  let record: DialogRecord = {
    ...input.record,
    lastActivityAt: view.event.timestamp,
    lastMessageId: view.message.messageId,
  };
  let pending = input.answer;
  let asks = 0;
  let effects = 0;
  let onces = 0;
  let stopped: Stop | undefined;
  let signal!: (stop: Stop) => void;
  const stop$ = new Promise<Stop>((resolve) => (signal = resolve));
  // Stops the run: later calls of `d` wait forever and do nothing, and the runner is told.
  const halt = <T>(stop: Stop): Promise<T> => {
    stopped ??= stop;
    signal(stopped);
    return never();
  };

  const save = async (): Promise<void> => {
    if (!(await saveDialog(view, record))) await halt({ kind: 'superseded' });
  };

  const ask = async (q: Question): Promise<string> => {
    if (stopped !== undefined) return never();
    const step = JSON.stringify([q.kind, String(q.question), q.choices ?? null]);
    const index = asks++;
    const effect = effects++; // the question is a message of the sequence, sent once whether answered or not
    // steps[index] is recorded for every question answered and for the one the dialog waits on
    if (index < record.steps.length && record.steps[index] !== step) return halt({ kind: 'diverged', step: index });
    if (index < record.answers.length) return record.answers[index] as string;
    if (index === record.steps.length) record = { ...record, steps: [...record.steps, step] };
    const text = pending;
    pending = undefined;
    const answer = text === undefined ? undefined : q.accept(text);
    if (answer !== undefined) {
      record = { ...record, answers: [...record.answers, answer] };
      return answer;
    }
    stopped = { kind: 'waiting' }; // at once, so nothing else runs; the runner is told once the question is out
    try {
      if (text !== undefined) {
        await view.reply(reask(q.reprompt, q.question)); // a re-ask is not part of the replayed sequence
      } else {
        if (effect >= record.sent) {
          await view.reply(q.question);
          record = { ...record, sent: effect + 1 };
        }
      }
      signal({ kind: 'waiting' });
    } catch (error) {
      signal({ kind: 'failed', error });
    }
    return never();
  };

  const d = {
    args: record.args,
    ctx: view as MessageContext,
    async ask(question: DialogContent, options?: AskOptions & { readonly choices?: readonly string[] }): Promise<string> {
      const choices = options?.choices;
      if (choices === undefined) {
        return ask({
          kind: 'ask',
          question,
          choices,
          accept: (text) => (text.trim() === '' ? undefined : text.trim()),
          reprompt: options?.reprompt ?? 'Please answer with some text.',
        });
      }
      checkChoices(choices);
      return ask({
        kind: 'ask',
        question,
        choices,
        accept: (text) => choices.find((choice) => choice.trim().toLowerCase() === text.trim().toLowerCase()),
        reprompt: options?.reprompt ?? `Please answer ${listChoices(choices)}.`,
      });
    },
    async confirm(question: DialogContent, options?: AskOptions): Promise<boolean> {
      const answer = await ask({
        kind: 'confirm',
        question,
        choices: undefined,
        accept: (text) => {
          const word = text.trim().toLowerCase();
          return YES.has(word) ? 'yes' : NO.has(word) ? 'no' : undefined;
        },
        reprompt: options?.reprompt ?? 'Please answer yes or no.',
      });
      return answer === 'yes';
    },
    async reply(content: DialogContent): Promise<void> {
      if (stopped !== undefined) return never();
      const effect = effects++;
      if (effect < record.sent) return;
      await view.reply(content);
      record = { ...record, sent: effect + 1 };
      await save();
    },
    async once<T extends JsonValue>(fn: () => T | Promise<T>): Promise<T> {
      if (stopped !== undefined) return never();
      const index = onces++;
      if (index < record.results.length) return record.results[index] as T;
      const value = JSON.parse(toJsonText(await fn())) as T;
      record = { ...record, results: [...record.results, value] };
      await save();
      return value;
    },
  };

  const run = definition.run as unknown as (dialog: Dialog) => unknown;
  let outcome: Outcome = await Promise.race([
    (async (): Promise<Outcome> => {
      await run(d as Dialog);
      return { kind: 'returned' };
    })().catch((error: unknown): Outcome => ({ kind: 'threw', error })),
    stop$,
  ]);
  // A run that stopped wins over a function that returned or threw anyway (a `d.ask` left without `await`).
  if (stopped !== undefined) outcome = await stop$;
  if (outcome.kind === 'returned' && (asks < record.steps.length || pending !== undefined)) {
    outcome = { kind: 'diverged', step: asks }; // returned before the question it was waiting on
  }
  await settle(view, definition, record, outcome);
}

// Failures of the machinery, not of the dialog: the event fails (and is retried or dead-lettered, its
// state changes dropped in the durable inbox), and the dialog stays as it was before the event.
const PASSED_ON = new Set(['CHORUS_ERR_REQUEUE', 'CHORUS_ERR_STATE_UNAVAILABLE', 'CHORUS_ERR_STATE_CONFLICT', 'CHORUS_ERR_REPLY_FAILED']);

async function settle(
  view: RoutedMessageContext,
  definition: DialogDefinition,
  record: DialogRecord,
  outcome: Outcome,
): Promise<void> {
  switch (outcome.kind) {
    case 'waiting':
      await saveDialog(view, record);
      return;
    case 'superseded':
      view.log.debug({ listener: definition.listener, dialog: record.name }, 'dialog replaced or cancelled while it ran');
      return;
    case 'returned':
      await endDialog(view, record.id);
      return;
    case 'diverged': {
      const err = new ChorusError(
        'CHORUS_ERR_DIALOG_REPLAY',
        `dialog ${record.name} of listener ${definition.listener} asked differently at question ${outcome.step + 1} ` +
          'than recorded: a dialog function must take the same path for the same answers (use d.once for the clock, ' +
          'random numbers and outside state); the dialog was ended',
      );
      await abandon(view, definition, record, err);
      return;
    }
    case 'threw':
    case 'failed':
      if (isChorusError(outcome.error) && PASSED_ON.has(outcome.error.code)) throw outcome.error;
      await abandon(view, definition, record, outcome.error);
      return;
  }
}

/**
 * Ends a dialog that failed, tells its user and logs the error. The event itself succeeds: were it failed,
 * the durable inbox would drop the ending with the event's other state changes and try the event again,
 * failing the same way.
 */
async function abandon(view: RoutedMessageContext, definition: DialogDefinition, record: DialogRecord, err: unknown): Promise<void> {
  view.log.error({ err, listener: definition.listener, dialog: record.name }, 'dialog failed and was ended');
  await endDialog(view, record.id);
  await view.reply(`Sorry, your ${record.name} dialog failed and has ended.`);
}
