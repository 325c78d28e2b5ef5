import { describe, expect, it } from 'vitest';
import { createConversationScheduler, type ConversationScheduler } from './conversation-scheduler.ts';

/** A scheduler whose workers wait until the test ends them; `log` records starts and ends in order. */
function harness(concurrency: number, suspect: (conversationId: string) => boolean = () => false) {
  const log: string[] = [];
  const finish = new Map<string, () => void>();
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
  const scheduler: ConversationScheduler = createConversationScheduler({
    concurrency,
    work: async (conversationId) => {
      if (suspect(conversationId) && !scheduler.isolate(conversationId)) {
        log.push(`aside ${conversationId}`);
        return;
      }
      log.push(`start ${conversationId}`);
      await new Promise<void>((resolve) => finish.set(conversationId, resolve));
      scheduler.endIsolation(conversationId);
      log.push(`end ${conversationId}`);
    },
    fail: (err) => {
      throw err;
    },
    settled: () => undefined,
    halted: () => false,
  });
  const end = async (conversationId: string): Promise<void> => {
    finish.get(conversationId)?.();
    await settle();
  };
  return { scheduler, log, end, settle };
}

describe('createConversationScheduler', () => {
  it('works at most `concurrency` conversations, the others first come first served; a dirty one again at once', async () => {
    const { scheduler, log, end, settle } = harness(2);
    for (const id of ['a', 'b', 'c', 'd']) scheduler.schedule(id);
    scheduler.schedule('a'); // while worked: again after, in its own place
    await settle();
    expect(log).toEqual(['start a', 'start b']);
    await end('a');
    expect(log.slice(2)).toEqual(['end a', 'start a']);
    await end('b');
    await end('a');
    expect(log.slice(4)).toEqual(['end b', 'start c', 'end a', 'start d']);
    await end('c');
    await end('d');
    expect(scheduler.isIdle()).toBe(true);
  });

  it('puts a suspect aside while others are worked, starts nothing meanwhile, then works it alone', async () => {
    const { scheduler, log, end, settle } = harness(4, (id) => id === 's');
    scheduler.schedule('a');
    scheduler.schedule('s');
    await settle();
    scheduler.schedule('b'); // a suspect waits: b waits behind it
    await settle();
    expect(log).toEqual(['start a', 'aside s']);
    expect(scheduler.isIdle()).toBe(false);
    await end('a');
    expect(log.slice(2)).toEqual(['end a', 'start s']); // alone
    scheduler.schedule('c');
    await settle();
    expect(log.slice(4)).toEqual([]); // nothing starts beside it
    await end('s'); // its suspect entry done: the others go on beside the rest of its conversation
    expect(log.slice(4)).toEqual(['start b', 'start c', 'end s']);
    await end('b');
    await end('c');
    expect(scheduler.isIdle()).toBe(true);
  });

  it('forgets what waits and what was put aside on clearWaiting', async () => {
    const { scheduler, log, end, settle } = harness(2, (id) => id === 's');
    scheduler.schedule('a');
    scheduler.schedule('s');
    await settle();
    scheduler.schedule('b');
    scheduler.clearWaiting();
    await end('a');
    expect(log).toEqual(['start a', 'aside s', 'end a']);
    expect(scheduler.isIdle()).toBe(true);
  });
});
