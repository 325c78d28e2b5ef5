import { describe, expect, it } from 'vitest';
import { NODE_DEFAULT_V8_POOL_SIZE, toV8PoolSize, v8PoolSizeFlag } from './v8-pool-size.ts';

describe('toV8PoolSize', () => {
  it('leaves one core to the main thread, keeps at least one helper and never exceeds Node\'s default', () => {
    expect([1, 2, 3, 4, 5, 8, 64].map(toV8PoolSize)).toEqual([1, 1, 2, 3, 4, 4, 4]);
    expect(NODE_DEFAULT_V8_POOL_SIZE).toBe(4);
  });
});

describe('v8PoolSizeFlag', () => {
  it('asks for the machine\'s size where it differs from Node\'s default', () => {
    expect(v8PoolSizeFlag([], '', 2)).toBe('--v8-pool-size=1');
    expect(v8PoolSizeFlag(['--cpu-prof'], '--max-old-space-size=256', 4)).toBe('--v8-pool-size=3');
  });

  it('asks for nothing on a machine where Node\'s default is the size', () => {
    expect(v8PoolSizeFlag([], '', 5)).toBeUndefined();
    expect(v8PoolSizeFlag([], '', 32)).toBeUndefined();
  });

  it('keeps a size the user gave, on the command line or in NODE_OPTIONS, in either form', () => {
    expect(v8PoolSizeFlag(['--v8-pool-size=8'], '', 2)).toBeUndefined();
    expect(v8PoolSizeFlag(['--v8-pool-size', '2'], '', 2)).toBeUndefined();
    expect(v8PoolSizeFlag([], '--max-old-space-size=256  --v8-pool-size=2', 2)).toBeUndefined();
  });
});
