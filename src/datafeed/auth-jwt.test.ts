import { generateKeyPairSync, verify, constants } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isChorusError } from '../errors.ts';
import { createAuthJwt } from './auth-jwt.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function decode(part: string | undefined): unknown {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
}

describe('createAuthJwt', () => {
  it('signs an RS512 JWT that verifies with the public key and carries sub, iat and exp in seconds', () => {
    const nowMs = 1_760_000_000_123;
    const jwt = createAuthJwt({ username: 'chorus-bot', privateKeyPem, nowMs });
    const [header, claims, signature] = jwt.split('.');
    expect(decode(header)).toEqual({ alg: 'RS512', typ: 'JWT' });
    expect(decode(claims)).toEqual({ sub: 'chorus-bot', iat: 1_760_000_000, exp: 1_760_000_240 });
    const valid = verify(
      'sha512',
      Buffer.from(`${header}.${claims}`),
      { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.from(signature ?? '', 'base64url'),
    );
    expect(valid).toBe(true);
  });

  it('does not verify once the claims are changed', () => {
    const jwt = createAuthJwt({ username: 'chorus-bot', privateKeyPem });
    const [header, , signature] = jwt.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'admin', iat: 0, exp: 9e9 })).toString('base64url');
    const valid = verify('sha512', Buffer.from(`${header}.${forged}`), publicKey, Buffer.from(signature ?? '', 'base64url'));
    expect(valid).toBe(false);
  });

  it('accepts a PKCS#1 key and a custom ttl under five minutes', () => {
    const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const jwt = createAuthJwt({ username: 'bot', privateKeyPem: pkcs1, nowMs: 10_000, ttlMs: 180_000 });
    expect(decode(jwt.split('.')[1])).toEqual({ sub: 'bot', iat: 10, exp: 190 });
  });

  it('refuses a ttl of five minutes or more, or not positive', () => {
    expect(() => createAuthJwt({ username: 'bot', privateKeyPem, ttlMs: 300_000 })).toThrow(RangeError);
    expect(() => createAuthJwt({ username: 'bot', privateKeyPem, ttlMs: 0 })).toThrow(RangeError);
  });

  it('fails with CHORUS_ERR_AUTH_FAILED naming the user, never the key, when the key is unusable', () => {
    const garbage = '-----BEGIN PRIVATE KEY-----\nU0VDUkVULUtFWS1NQVRFUklBTA==\n-----END PRIVATE KEY-----\n';
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const pem of [garbage, ec, publicKey.export({ type: 'spki', format: 'pem' }).toString()]) {
      let thrown: unknown;
      try {
        createAuthJwt({ username: 'chorus-bot', privateKeyPem: pem });
      } catch (err) {
        thrown = err;
      }
      expect(isChorusError(thrown, 'CHORUS_ERR_AUTH_FAILED')).toBe(true);
      expect((thrown as Error).message).toContain('chorus-bot');
      expect((thrown as Error).message).not.toContain('U0VDUkVU');
    }
  });
});
