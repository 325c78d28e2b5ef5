/**
 * An RSA-authenticated Symphony session: the session token (pod) and key-manager token (KM) every Agent API
 * call carries, obtained with a signed JWT and kept until a server refuses them (reference §3.4); no KM token
 * with Simplified Key Delivery (simplified-key-delivery.ts).
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { isChorusError, ChorusError } from '../errors.ts';
import { userIdSchema } from '../events/wire-schema.ts';
import { HttpError, joinUrl, type AgentHttp, type AuthSession, type SessionTokens } from './agent-http.ts';
import { createAuthJwt } from './auth-jwt.ts';
import { agentSupportsSimplifiedKeyDelivery, offersSimplifiedKeyDelivery } from './simplified-key-delivery.ts';

/** Options of {@link createSymphonySession}. */
export type SymphonySessionOptions = {
  /** The pod's base URL without `/login` or `/pod`, e.g. `https://acme.symphony.com`. */
  readonly podUrl: string;
  /**
   * The key manager's base URL without `/relay`, e.g. `https://acme-km.symphony.com`. Needed unless the pod and
   * the Agent offer Simplified Key Delivery.
   */
  readonly keyManagerUrl?: string | undefined;
  /**
   * The Agent's base URL without `/agent`, asked for its version (`GET /agent/v1/info`) when the pod offers
   * Simplified Key Delivery. Without it, the key manager is always used.
   */
  readonly agentUrl?: string | undefined;
  /** The service account's username (the JWT `sub`). */
  readonly username: string;
  /** The service account's RSA private key, PEM. Never logged nor put in a message. */
  readonly privateKeyPem: string;
  readonly http: AgentHttp;
  readonly log: Logger;
};

/** Who the bot is, from `GET /pod/v2/sessioninfo` (`UserV2`). */
export type SessionInfo = {
  /** The int64 user id as a string of digits (Symphony ids may exceed 2^53 in other APIs; keep them strings). */
  readonly userId: string;
  readonly displayName: string;
  readonly username: string;
};

/** An authenticated session; see {@link createSymphonySession}. */
export type SymphonySession = AuthSession & {
  /**
   * Who the session's user is (`GET {podUrl}/pod/v2/sessioninfo`). Fetched once; later calls resolve with the
   * same value.
   */
  sessionInfo(): Promise<SessionInfo>;
};

/** `Token` (LOGIN): `{ name, token, authorizationToken? }`; chorus needs `token`. */
const tokenSchema = z.object({ token: z.string().min(1) });

/** `AgentInfo` (Agent API `GET /v1/info`) as far as chorus uses it. */
const agentInfoSchema = z.object({ version: z.string() });

/** `UserV2` (pod API) as far as chorus uses it. */
const userV2Schema = z.object({
  id: userIdSchema,
  username: z.string().min(1),
  displayName: z.string().nullish(),
});

/**
 * Creates a session that authenticates lazily: the first `tokens()` call posts a fresh RS512 JWT
 * (`{ token: jwt }`) to `POST {podUrl}/login/pubkey/authenticate`, then, unless Simplified Key Delivery is
 * offered, to `POST {keyManagerUrl}/relay/pubkey/authenticate`, and keeps the tokens (LOGIN
 * `/pubkey/authenticate`). SKD, as BDK Java decides it: the session token's claim
 * `canUseSimplifiedKeyDelivery: true` and `GET {agentUrl}/agent/v1/info` naming version 24.12 or later (an
 * Agent that does not answer, or an older one, means the key manager is used); the session then has no key
 * manager token and Agent API calls carry the session token only.
 *
 * Concurrency: one authentication at a time (single flight). `tokens()` callers share the pending one;
 * `refresh(stale)` starts a new one only when `stale` are still the current tokens, so many callers that saw
 * the same tokens refused cause one re-authentication, and a caller holding older tokens just gets the
 * current ones. A failed authentication is not kept: the next call tries again.
 *
 * @throws ChorusError CHORUS_ERR_AUTH_FAILED (from `tokens`, `refresh`, `sessionInfo`) when an authenticate
 *   call is answered 401 or 403, or the key is not an RSA private key; the message names the username and
 *   URL. CHORUS_ERR_CONFIG_INVALID naming `keyManager.url` when the key manager is needed and no
 *   `keyManagerUrl` was given. Transient HttpErrors (network, 5xx, 429) pass through for the caller to retry.
 * @example
 * const session = createSymphonySession({ podUrl, keyManagerUrl, username: 'chorus-bot', privateKeyPem, http, log });
 * const { userId, displayName } = await session.sessionInfo();
 */
export function createSymphonySession(options: SymphonySessionOptions): SymphonySession {
  const { podUrl, keyManagerUrl, agentUrl, username, privateKeyPem, http } = options;
  const log = options.log.child({ component: 'session' });
  let current: SessionTokens | undefined;
  let pending: Promise<SessionTokens> | undefined;
  let info: SessionInfo | undefined;

  const authenticateAt = async (url: string): Promise<string> => {
    try {
      const { token } = await http.request({
        method: 'POST',
        url,
        json: { token: createAuthJwt({ username, privateKeyPem }) },
        schema: tokenSchema,
      });
      return token;
    } catch (err) {
      if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
        throw new ChorusError(
          'CHORUS_ERR_AUTH_FAILED',
          `authentication of ${username} at ${url} was refused (HTTP ${err.status}): check the username and that ` +
            `the public key of the private key is registered for this service account`,
          { cause: err },
        );
      }
      throw err;
    }
  };

  /**
   * Whether the Agent at `url` names version 24.12 or later at `GET /agent/v1/info` (no tokens: SPEC lists none),
   * so that the Simplified Key Delivery the pod offers applies; an Agent that does not answer takes none.
   */
  const agentTakesSimplifiedKeyDelivery = async (url: string): Promise<boolean> => {
    let version: string;
    try {
      version = (await http.request({ method: 'GET', url: joinUrl(url, '/agent/v1/info'), schema: agentInfoSchema })).version;
    } catch (err) {
      log.info({ err }, 'the pod offers Simplified Key Delivery, the Agent did not tell its version: the key manager is used');
      return false;
    }
    if (agentSupportsSimplifiedKeyDelivery(version)) return true;
    log.info({ agentVersion: version }, 'the pod offers Simplified Key Delivery, the Agent is older than 24.12: the key manager is used');
    return false;
  };

  const authenticate = (): Promise<SessionTokens> => {
    pending ??= (async () => {
      try {
        const sessionToken = await authenticateAt(joinUrl(podUrl, '/login/pubkey/authenticate'));
        const offered = agentUrl !== undefined && offersSimplifiedKeyDelivery(sessionToken);
        const simplifiedKeyDelivery = offered && (await agentTakesSimplifiedKeyDelivery(agentUrl));
        let keyManagerToken: string | undefined;
        if (!simplifiedKeyDelivery) {
          if (keyManagerUrl === undefined) {
            const why = offered
              ? 'it offers Simplified Key Delivery (SKD), but the Agent did not name version 24.12 or later'
              : 'it does not offer Simplified Key Delivery (SKD)';
            throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `keyManager.url: required to connect to this pod: ${why}`);
          }
          keyManagerToken = await authenticateAt(joinUrl(keyManagerUrl, '/relay/pubkey/authenticate'));
        }
        current = { sessionToken, keyManagerToken };
        log.info({ username, simplifiedKeyDelivery }, 'authenticated');
        return current;
      } catch (err) {
        log.warn({ username, err, code: isChorusError(err) ? err.code : undefined }, 'authentication failed');
        throw err;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };

  const session: SymphonySession = {
    async tokens() {
      return current ?? authenticate();
    },
    async refresh(stale) {
      if (current !== undefined && !sameTokens(current, stale)) return current;
      current = undefined;
      return authenticate();
    },
    async sessionInfo() {
      if (info !== undefined) return info;
      const user = await http.request({
        method: 'GET',
        url: joinUrl(podUrl, '/pod/v2/sessioninfo'),
        session,
        withKeyManagerToken: false,
        log,
        schema: userV2Schema,
      });
      info = { userId: String(user.id), username: user.username, displayName: user.displayName || user.username };
      return info;
    },
  };
  return session;
}

function sameTokens(a: SessionTokens, b: SessionTokens): boolean {
  return a.sessionToken === b.sessionToken && a.keyManagerToken === b.keyManagerToken;
}
