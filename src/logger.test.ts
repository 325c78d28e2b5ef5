import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('createLogger', () => {
  it('never writes a planted session token, key-manager token, private key or authorization header', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream, level: 'trace' });
    const secret = 'SECRET-7f3a9c';
    log.info({ sessionToken: secret, keyManagerToken: secret, privateKey: secret }, 'auth');
    log.info({ headers: { authorization: `Bearer ${secret}`, sessionToken: secret } }, 'request');
    log.child({ session: { token: secret } }).warn({ auth: { keyManagerToken: secret } }, 'nested');
    const text = out.text();
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(secret);
    expect(text.trim().split('\n')).toHaveLength(3);
  });
});
