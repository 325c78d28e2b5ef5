/**
 * Dialogs: multi-turn conversations with one user in one stream, written as one async function that reads
 * like straight-line code (README "Dialogs"). These are the types listener authors use; the replay engine is
 * dialog-runner.ts, the routing of starts, answers and `/cancel` dialog-routing.ts.
 */
import type { MessageML } from '../reply/messageml.ts';
import type { JsonValue } from '../state/json-value.ts';
import type { CommandOptions, MessageContext } from './listener.ts';
import type { PatternValue } from './pattern.ts';

/** How long a dialog waits for its user's next message: 600_000 ms (10 minutes). */
export const DEFAULT_DIALOG_TIMEOUT_MS = 600_000;

/** A question or a reply: plain text (escaped), or MessageML built with `ml`. */
export type DialogContent = string | MessageML;

/** Options of `d.ask` and `d.confirm`. */
export type AskOptions = {
  /**
   * Sent, followed by the question, when an answer is not valid. Default: `Please answer S, M or L.` (the
   * choices), `Please answer yes or no.` (confirm), `Please answer with some text.` (an empty answer).
   */
  readonly reprompt?: DialogContent;
};

/** Options of `d.ask` with a closed set of answers. */
export type ChoiceOptions<C extends readonly string[]> = AskOptions & {
  /** The valid answers, compared with the trimmed answer case-insensitively; the answer returns as written here. */
  readonly choices: C;
};

/**
 * What a dialog function receives. The function runs again from the top for every message of its user
 * (replay): calls whose outcome is recorded return it at once without sending anything, and the first `ask`
 * without an answer sends its question (once) and the run stops there until the user answers. So the function
 * must take the same path for the same answers: branch on answers, `args` and `once` results, never on the
 * clock, random numbers or state read outside `once` (a changed sequence of questions ends the dialog with
 * CHORUS_ERR_DIALOG_REPLAY). Call the methods one after another (`await` each), not concurrently.
 *
 * @example
 * const size = await d.ask('What size? S, M or L', { choices: ['S', 'M', 'L'] }); // 'S' | 'M' | 'L'
 * if (!(await d.confirm(`A ${size} pizza?`))) return d.reply('Cancelled.');
 */
export type Dialog<A = Readonly<Record<string, PatternValue>>> = {
  /** The arguments of the command that started the dialog, typed from its pattern as for `bot.command`. */
  readonly args: A;
  /**
   * The message this run handles: the start command, then each answer. For reading (`ctx.user`, `ctx.log`);
   * what it does (`ctx.reply`, `ctx.state.set`) happens again on every replay, unlike `d.reply` and `d.once`.
   */
  readonly ctx: MessageContext;
  /**
   * Asks the user; resolves with the answer from one of the given `choices` (trimmed, case-insensitive,
   * returned as written in `choices`). Another answer is re-asked with `reprompt`.
   * @throws ChorusError CHORUS_ERR_DIALOG_INVALID when `choices` is empty or holds a blank or a duplicate.
   */
  ask<const C extends readonly string[]>(question: DialogContent, options: ChoiceOptions<C>): Promise<C[number]>;
  /**
   * Asks the user; resolves with the answer: the message's text without the bot's @mentions (its `prompt`),
   * whitespace runs as single spaces. An empty answer is re-asked.
   */
  ask(question: DialogContent, options?: AskOptions): Promise<string>;
  /** Asks a yes/no question: `yes`/`y` and `no`/`n`, case-insensitive; anything else is re-asked. */
  confirm(question: DialogContent, options?: AskOptions): Promise<boolean>;
  /** Sends a message to the stream, once: on replays it is not sent again. */
  reply(content: DialogContent): Promise<void>;
  /**
   * Runs `fn` the first time the dialog gets here and records its result; replays return the recorded result
   * without running it. For side effects and non-deterministic values (placing an order, a timestamp).
   * @throws ChorusError CHORUS_ERR_STATE_VALUE when the result is not JSON-serializable.
   */
  once<T extends JsonValue>(fn: () => T | Promise<T>): Promise<T>;
};

/** A dialog function. When it returns (or throws), the dialog ends and its state is deleted. */
export type DialogFunction<A> = (d: Dialog<A>) => unknown;

/** Options of `bot.dialog`: those of the start command, and the timeout. */
export type DialogOptions = CommandOptions & {
  /**
   * How long the dialog waits for its user's next message, ms, measured on event timestamps (the pod's
   * clock, so replays are deterministic). A message after that finds the dialog timed out. Default: 600_000.
   */
  readonly timeoutMs?: number;
};
