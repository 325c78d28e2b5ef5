import { describe, expect, it } from 'vitest';
import { agentSupportsSimplifiedKeyDelivery, offersSimplifiedKeyDelivery } from './simplified-key-delivery.ts';

const jwt = (claims: unknown): string => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.signature`;

describe('offersSimplifiedKeyDelivery', () => {
  it('reads the canUseSimplifiedKeyDelivery claim of a JWT session token', () => {
    // BDK Java's JwtHelperTest token: {"sub":"1234567890","canUseSimplifiedKeyDelivery":true}
    expect(offersSimplifiedKeyDelivery('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiY2FuVXNlU2ltcGxpZmllZEtleURlbGl2ZXJ5Ijp0cnVlfQ.signature')).toBe(true);
    expect(offersSimplifiedKeyDelivery(jwt({ sub: '1', canUseSimplifiedKeyDelivery: false }))).toBe(false);
    expect(offersSimplifiedKeyDelivery(jwt({ sub: '1', canUseSimplifiedKeyDelivery: 'true' }))).toBe(false);
    expect(offersSimplifiedKeyDelivery(jwt({ sub: '1' }))).toBe(false);
  });

  it('is false for an opaque token and for claims that are not a JSON object', () => {
    expect(offersSimplifiedKeyDelivery('f'.repeat(96))).toBe(false);
    expect(offersSimplifiedKeyDelivery('a.b')).toBe(false);
    expect(offersSimplifiedKeyDelivery('e30.not-json.signature')).toBe(false);
    expect(offersSimplifiedKeyDelivery(jwt(null))).toBe(false);
    expect(offersSimplifiedKeyDelivery(jwt([true]))).toBe(false);
  });
});

describe('agentSupportsSimplifiedKeyDelivery', () => {
  it('is true from Agent 24.12 on, reading the first major.minor of AgentInfo.version', () => {
    expect(agentSupportsSimplifiedKeyDelivery('Agent-24.12.0')).toBe(true);
    expect(agentSupportsSimplifiedKeyDelivery('Agent-25.1.3-12-Linux')).toBe(true);
    expect(agentSupportsSimplifiedKeyDelivery('26.2.1')).toBe(true);
    // BDK Java's AgentVersionServiceTest version string: 24.10, whatever numbers follow.
    expect(agentSupportsSimplifiedKeyDelivery('Agent-24.10.1-815-Linux-4.14.314-237.533.amzn2.x86_64')).toBe(false);
    expect(agentSupportsSimplifiedKeyDelivery('Agent-23.99.0')).toBe(false);
    expect(agentSupportsSimplifiedKeyDelivery('Agent-24.2.0')).toBe(false);
  });

  it('is false for a version that names no major.minor', () => {
    expect(agentSupportsSimplifiedKeyDelivery('')).toBe(false);
    expect(agentSupportsSimplifiedKeyDelivery('Agent-latest')).toBe(false);
  });
});
