/**
 * A session as one user of a pod, for the `say` and `messages` commands: the real RSA authentication
 * against the pod's login and key-manager endpoints, with the user's private key file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAgentHttp, type AgentHttp } from '../datafeed/agent-http.ts';
import { createSymphonySession, type SymphonySession } from '../datafeed/symphony-session.ts';
import { ChorusError } from '../errors.ts';
import type { Logger } from 'pino';

/**
 * Opens a session as `username` on the pod at `podUrl` (also its agent and key manager, as on the embedded
 * pod). The private key is read from `keyPath`, else from `<keysDir>/<username>.pem` (where the embedded pod
 * writes its users' keys).
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when the key file cannot be read (the message names it).
 */
export function openUserSession(options: {
  readonly podUrl: string;
  readonly username: string;
  readonly keyPath: string | undefined;
  readonly keysDir: string;
  readonly log: Logger;
}): { session: SymphonySession; http: AgentHttp } {
  const path = options.keyPath ?? join(options.keysDir, `${options.username}.pem`);
  let privateKeyPem: string;
  try {
    privateKeyPem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `cannot read the private key of ${options.username} at ${path} (--key <file>)`, {
      cause: err,
    });
  }
  const http = createAgentHttp();
  const session = createSymphonySession({
    podUrl: options.podUrl,
    keyManagerUrl: options.podUrl,
    agentUrl: options.podUrl,
    username: options.username,
    privateKeyPem,
    http,
    log: options.log,
  });
  return { session, http };
}
