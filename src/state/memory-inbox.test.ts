import { describeInbox } from '../../test/state/describe-inbox.ts';
import { createMemoryInbox } from './memory-inbox.ts';
import { createMemoryStore } from './memory-store.ts';

describeInbox(
  'memory',
  async ({ dedupeWindowMs }) => {
    let clock = 1_000_000;
    const now = () => clock;
    const store = createMemoryStore({ now });
    return { inbox: createMemoryInbox({ store, dedupeWindowMs, now }), store, advance: (ms) => (clock += ms) };
  },
  { shared: false },
);
