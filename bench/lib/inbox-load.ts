/**
 * Drives an Inbox as `chorus run` does (src/routing/run-with-inbox.ts), without listeners: each datafeed read's
 * events appended together, then each conversation of the read leased with its first entry read (`lease` and
 * `next` called together), and its entries completed one after another, each `complete` giving the next one.
 * What stays is each event's done mark.
 */
import type { Inbox, InboxItem } from '../../src/state/inbox.ts';

/** Handles `reads` (each one datafeed read's events, in feed order) through `inbox`, one read after another. */
export async function handleReads(inbox: Inbox, reads: readonly (readonly InboxItem[])[], owner = 'bench'): Promise<void> {
  for (const items of reads) {
    await inbox.append(items);
    const conversations = new Set(items.map((item) => item.conversationId));
    await Promise.all(
      [...conversations].map(async (conversationId) => {
        const [held, first] = await Promise.all([inbox.lease(conversationId, owner, 30_000), inbox.next(conversationId)]);
        if (!held) throw new Error(`inbox-load: the lease of ${conversationId} is not free`);
        for (let entry = first; entry !== undefined; ) {
          const completion = await inbox.complete(entry, owner, []);
          if (!completion.completed) throw new Error(`inbox-load: entry ${entry.seq} not completed`);
          entry = completion.next;
        }
      }),
    );
  }
}
