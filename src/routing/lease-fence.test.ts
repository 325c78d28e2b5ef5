/**
 * LeaseFence on an injected clock, its sender, and its renewer against a real memory inbox.
 */
import { describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import type { OutboundMessage } from '../reply/reply-sender.ts';
import { createMemoryInbox } from '../state/memory-inbox.ts';
import { createMemoryStore } from '../state/memory-store.ts';
import { createFencedSender, LEASE_FENCE_MARGIN, LeaseFence, startLeaseRenewer } from './lease-fence.ts';

const message: OutboundMessage = { streamId: 's1', message: '<messageML>hi</messageML>', inReplyTo: { eventId: 'e1', type: 'MESSAGESENT' } };

/** A fence of a 1000 ms lease taken at t = 0 on a clock the test sets. */
function fenceAt0() {
  const clock = { t: 0 };
  return { clock, fence: new LeaseFence('c1', 1_000, 0, () => clock.t) };
}

describe('LeaseFence', () => {
  it(`is open until ${LEASE_FENCE_MARGIN} of the lease before its deadline, counted from the take's issue`, () => {
    const { clock, fence } = fenceAt0();
    clock.t = 899;
    expect([fence.isOpen(), fence.state()]).toEqual([true, 'held']);
    clock.t = 900;
    expect([fence.isOpen(), fence.state()]).toEqual([false, 'expired']);
  });

  it('moves the deadline with each successful renewal, from when the renewal was issued', () => {
    const { clock, fence } = fenceAt0();
    clock.t = 500;
    expect(fence.renewed(300, true)).toBe('held'); // issued at 300, resolved at 500
    clock.t = 1_199;
    expect(fence.isOpen()).toBe(true);
    clock.t = 1_200;
    expect(fence.isOpen()).toBe(false);
  });

  it('closes as lost when a renewal resolves false', () => {
    const { clock, fence } = fenceAt0();
    clock.t = 100;
    expect(fence.renewed(100, false)).toBe('lost');
    expect([fence.isOpen(), fence.state()]).toEqual([false, 'lost']);
    expect(fence.renewed(200, true)).toBe('lost');
    expect(fence.isOpen()).toBe(false);
  });

  it('stays closed once its deadline passed, even when a renewal issued before then succeeds afterwards', () => {
    const { clock, fence } = fenceAt0();
    clock.t = 950; // the event loop stalled: the renewal issued at 600 resolves now
    expect(fence.renewed(600, true)).toBe('expired');
    clock.t = 951;
    expect([fence.isOpen(), fence.state()]).toEqual([false, 'expired']);
  });

  it('keeps the first reason it closed for, except lost', () => {
    const { clock, fence } = fenceAt0();
    expect(fence.close('released')).toBe('released');
    clock.t = 5_000;
    expect(fence.close('expired')).toBe('released');
    expect(fence.close('lost')).toBe('lost');
  });
});

describe('createFencedSender', () => {
  it('sends while the fence is open and refuses with CHORUS_ERR_LEASE_LOST, sending nothing, once it is closed', async () => {
    const { clock, fence } = fenceAt0();
    const sent: OutboundMessage[] = [];
    const sender = createFencedSender({ send: async (m) => void sent.push(m) }, fence);
    await sender.send(message);
    clock.t = 900;
    const refused = await sender.send(message).then(() => undefined, (err: unknown) => err);
    expect(isChorusError(refused, 'CHORUS_ERR_LEASE_LOST')).toBe(true);
    expect((refused as Error).message).toBe('reply to event e1 not sent: the lease of conversation c1 is expired');
    expect(sent).toEqual([message]);
  });

  it("hands the sender the same check for each of its tries: passing while open or once the event is done, else the refusal", async () => {
    const { clock, fence } = fenceAt0();
    let done = false;
    const checks: (() => Error | undefined)[] = [];
    const sender = createFencedSender({ send: async (_m, options) => void checks.push(options?.fence ?? (() => new Error('no fence'))) }, fence, () => done);
    await sender.send(message);
    const [check] = checks;
    expect(check?.()).toBeUndefined();
    clock.t = 900; // the lease lapses while the sender waits (queue, pacing, a retry's backoff)
    expect(isChorusError(check?.(), 'CHORUS_ERR_LEASE_LOST')).toBe(true);
    done = true; // the event was completed meanwhile: its late try duplicates nothing
    expect(check?.()).toBeUndefined();
  });
});

describe('startLeaseRenewer', () => {
  it('renews open leases, and neither renews nor keeps one whose fence closed (another owner can take it)', async () => {
    const store = createMemoryStore();
    const inboxClock = { t: 0 }; // the backend's clock, moved by the test
    const inbox = createMemoryInbox({ store, now: () => inboxClock.t });
    const leaseMs = 600;
    expect(await inbox.lease('open', 'a', leaseMs)).toBe(true);
    expect(await inbox.lease('stalled', 'a', leaseMs)).toBe(true);
    inboxClock.t = 10_000; // both expired on the backend, unless renewed from now on
    const open = new LeaseFence('open', leaseMs, performance.now());
    const stalled = new LeaseFence('stalled', leaseMs, performance.now() - leaseMs); // its local deadline passed
    const leased = new Map([
      ['open', open],
      ['stalled', stalled],
    ]);
    const errors: unknown[] = [];
    const stop = startLeaseRenewer({ inbox, owner: 'a', leaseMs, leased, log: createLogger({ level: 'silent' }), fail: (err) => errors.push(err) });
    try {
      await new Promise((resolve) => setTimeout(resolve, leaseMs / 3 + 100)); // a renewal round at least
      expect([...leased.keys()]).toEqual(['open']);
      expect(stalled.state()).toBe('expired');
      expect(open.isOpen()).toBe(true);
      expect(await inbox.lease('open', 'b', leaseMs)).toBe(false); // renewed
      expect(await inbox.lease('stalled', 'b', leaseMs)).toBe(true); // not renewed
      expect(errors).toEqual([]);
    } finally {
      stop();
    }
  });
});
