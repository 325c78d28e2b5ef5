/**
 * The authentication JWT of Symphony RSA bot authentication (reference §3.4): the token a service account
 * signs with its private key and posts to `/login/pubkey/authenticate` and `/relay/pubkey/authenticate`.
 */
import { createPrivateKey, constants, sign, type KeyObject } from 'node:crypto';
import { ChorusError } from '../errors.ts';

/** Options of {@link createAuthJwt}. */
export type AuthJwtOptions = {
  /** The service account's username: the `sub` claim. */
  readonly username: string;
  /** The service account's RSA private key, PEM (PKCS#1 or PKCS#8, unencrypted). */
  readonly privateKeyPem: string;
  /** The current time, ms since the epoch. Default: `Date.now()`. */
  readonly nowMs?: number;
  /**
   * How long the token is valid. Default: 240_000 ms (BDK Java `JwtHelper.JWT_EXPIRATION_MILLIS`). Must be
   * positive and under 300_000 ms: Symphony refuses an `exp` more than five minutes ahead (reference §3.4).
   */
  readonly ttlMs?: number;
};

/** The longest ttl Symphony accepts, exclusive (reference §3.4: "between the current time and five minutes"). */
const MAX_TTL_MS = 300_000;

/**
 * Creates a signed RS512 JWT for RSA session authentication: header `{"alg":"RS512","typ":"JWT"}`, claims
 * `sub` (the username), `iat` and `exp` (seconds since the epoch, `exp = iat + ttl`), signed with
 * RSASSA-PKCS1-v1_5 over SHA-512 (node:crypto; no JWT library).
 *
 * @throws RangeError when `ttlMs` is not a positive number under 300_000.
 * @throws ChorusError CHORUS_ERR_AUTH_FAILED when `privateKeyPem` is not an RSA private key (the message
 *   names the username, never the key).
 * @example
 * const jwt = createAuthJwt({ username: 'chorus-bot', privateKeyPem: readFileSync('bot.pem', 'utf8') });
 * await request(`${podUrl}/login/pubkey/authenticate`, { method: 'POST', body: JSON.stringify({ token: jwt }) });
 */
export function createAuthJwt(options: AuthJwtOptions): string {
  const ttlMs = options.ttlMs ?? 240_000;
  if (!(ttlMs > 0 && ttlMs < MAX_TTL_MS)) {
    throw new RangeError(`createAuthJwt: ttlMs must be positive and under ${MAX_TTL_MS}, got ${ttlMs}`);
  }
  const key = toRsaPrivateKey(options.username, options.privateKeyPem);
  const nowMs = options.nowMs ?? Date.now();
  const iat = Math.floor(nowMs / 1000);
  const exp = Math.floor((nowMs + ttlMs) / 1000);
  const header = toBase64Url(JSON.stringify({ alg: 'RS512', typ: 'JWT' }));
  const claims = toBase64Url(JSON.stringify({ sub: options.username, exp, iat }));
  const signingInput = `${header}.${claims}`;
  const signature = sign('sha512', Buffer.from(signingInput, 'utf8'), {
    key,
    padding: constants.RSA_PKCS1_PADDING,
  });
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** Parses the PEM into an RSA private KeyObject, or throws CHORUS_ERR_AUTH_FAILED without echoing the key. */
function toRsaPrivateKey(username: string, pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    // The cause is node's parse error: it names the failing decoder, not the key material.
    throw new ChorusError('CHORUS_ERR_AUTH_FAILED', `${username}: the private key is not a readable PEM private key`, {
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ChorusError(
      'CHORUS_ERR_AUTH_FAILED',
      `${username}: the private key is ${key.asymmetricKeyType ?? 'of unknown type'}, RS512 needs an RSA key`,
    );
  }
  return key;
}

function toBase64Url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
