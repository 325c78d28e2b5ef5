/**
 * Simplified Key Delivery (SKD, reference §3.4): a pod whose session token (a JWT) carries the claim
 * `canUseSimplifiedKeyDelivery: true`, with an Agent of version 24.12 or later, needs no key manager token; the
 * bot then skips the key manager's `/relay/pubkey/authenticate`. The decision is BDK Java's
 * (`AuthSessionImpl.refreshAllTokens`: `JwtHelper.isSkdEnabled(sessionToken)` and the Agent version from
 * `GET /agent/v1/info`, `AgentVersionService`).
 */

/** The first Agent version that works without a key manager token (BDK Java `AgentVersion.AGENT_24_12`). */
const FIRST_SKD_AGENT = { major: 24, minor: 12 } as const;

/**
 * True when `sessionToken` is a JWT whose claims (its second part, base64url JSON, read without verifying the
 * signature: the pod just issued it over TLS) hold `canUseSimplifiedKeyDelivery: true`; false for any other
 * token, an opaque one included.
 */
export function offersSimplifiedKeyDelivery(sessionToken: string): boolean {
  const parts = sessionToken.split('.');
  if (parts.length !== 3) return false;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && (claims as Record<string, unknown>)['canUseSimplifiedKeyDelivery'] === true;
  } catch {
    return false;
  }
}

/**
 * True when the Agent `version` (AgentInfo.version, e.g. `Agent-24.12.1-815-Linux-…`) is 24.12 or later: its
 * first two numbers are read as major and minor. False when it names no version.
 */
export function agentSupportsSimplifiedKeyDelivery(version: string): boolean {
  const match = /(\d+)\.(\d+)/.exec(version);
  if (match === null) return false;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > FIRST_SKD_AGENT.major || (major === FIRST_SKD_AGENT.major && minor >= FIRST_SKD_AGENT.minor);
}
