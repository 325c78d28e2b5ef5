/**
 * Session and key manager tokens: issued by the authenticate endpoints, checked on every other call, expired
 * by fault injection. Tokens are random and opaque, as LOGIN `Token.token` says they are to clients.
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
  /** A new random token of `kind` for `userId` (96 hex characters). */
  issue(kind: TokenKind, userId: string): string;
  /**
   * Checks the tokens of a request: the session token must be live; the key manager token must be live and of
   * the same user when given, and is required when `requireKeyManager`. Fails with 401 "Invalid session"
   * (the body of a real 401, BDK Java fixture `unauthorized_error.json`).
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

/** Creates an empty token store. Tokens never expire by themselves (a real pod keeps them 1 h to 2 weeks). */
export function createSessionStore(): SessionStore {
  const tokens = new Map<string, { kind: TokenKind; userId: string }>();
  const invalid = fail(401, 'Invalid session');

  return {
    issue(kind, userId) {
      const token = randomBytes(48).toString('hex');
      tokens.set(token, { kind, userId });
      return token;
    },
    check(sessionToken, keyManagerToken, requireKeyManager) {
      const session = sessionToken === undefined ? undefined : tokens.get(sessionToken);
      if (sessionToken === undefined || session === undefined || session.kind !== 'sessionToken') return invalid;
      if (keyManagerToken === undefined) {
        return requireKeyManager ? invalid : succeed({ userId: session.userId, sessionToken, keyManagerToken });
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
