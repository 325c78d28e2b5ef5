/**
 * Session and key manager tokens: issued by the authenticate endpoints, checked on every other call, expired
 * by fault injection. Tokens are random and opaque, as LOGIN `Token.token` says they are to clients; with
 * Simplified Key Delivery a session token is JWT-shaped, its claims saying so (reference §3.4), and its calls
 * need no key manager token.
 */
import { randomBytes } from 'node:crypto';
import { fail, succeed, type PodResult } from './pod-result.ts';

/** The two token kinds, named as the headers that carry them and as LOGIN `Token.name`. */
export type TokenKind = 'sessionToken' | 'keyManagerToken';

/** A caller whose tokens checked out. */
export type Caller = {
  readonly userId: string;
  readonly sessionToken: string;
  readonly keyManagerToken: string | undefined;
};

/** The live tokens of the pod. */
export type SessionStore = {
  /**
   * A new random token of `kind` for `userId` (96 hex characters); with Simplified Key Delivery, a session
   * token is `<header>.<claims>.<96 hex>`, the claims `{ sub: userId, canUseSimplifiedKeyDelivery: true }`.
   */
  issue(kind: TokenKind, userId: string): string;
  /**
   * Checks the tokens of a request: the session token must be live; the key manager token must be live and of
   * the same user when given, and is required when `requireKeyManager`, unless the pod offers Simplified Key
   * Delivery. Fails with 401 "Invalid session" (the body of a real 401, BDK Java fixture
   * `unauthorized_error.json`).
   */
  check(
    sessionToken: string | undefined,
    keyManagerToken: string | undefined,
    requireKeyManager: boolean,
  ): PodResult<Caller>;
  /** Expires the caller's tokens: its later calls fail with 401 until it authenticates again. */
  expire(caller: Caller): void;
  /** Number of live tokens (both kinds). */
  size(): number;
};

/** The JWT header of Simplified Key Delivery session tokens: unsigned, as clients only read the claims. */
const SKD_HEADER = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');

/**
 * Creates an empty token store; `simplifiedKeyDelivery` (default false) as {@link SessionStore} says. Tokens
 * never expire by themselves (a real pod keeps them 1 h to 2 weeks).
 */
export function createSessionStore(options: { readonly simplifiedKeyDelivery?: boolean } = {}): SessionStore {
  const skd = options.simplifiedKeyDelivery === true;
  const tokens = new Map<string, { kind: TokenKind; userId: string }>();
  const invalid = fail(401, 'Invalid session');

  return {
    issue(kind, userId) {
      let token = randomBytes(48).toString('hex');
      if (skd && kind === 'sessionToken') {
        const claims = Buffer.from(JSON.stringify({ sub: userId, canUseSimplifiedKeyDelivery: true })).toString('base64url');
        token = `${SKD_HEADER}.${claims}.${token}`;
      }
      tokens.set(token, { kind, userId });
      return token;
    },
    check(sessionToken, keyManagerToken, requireKeyManager) {
      const session = sessionToken === undefined ? undefined : tokens.get(sessionToken);
      if (sessionToken === undefined || session === undefined || session.kind !== 'sessionToken') return invalid;
      if (keyManagerToken === undefined) {
        return requireKeyManager && !skd ? invalid : succeed({ userId: session.userId, sessionToken, keyManagerToken });
      }
      const km = tokens.get(keyManagerToken);
      if (km === undefined || km.kind !== 'keyManagerToken' || km.userId !== session.userId) return invalid;
      return succeed({ userId: session.userId, sessionToken, keyManagerToken });
    },
    expire(caller) {
      tokens.delete(caller.sessionToken);
      if (caller.keyManagerToken !== undefined) tokens.delete(caller.keyManagerToken);
    },
    size: () => tokens.size,
  };
}
