/**
 * A loopback HTTP proxy in front of a pod that records the secrets passing through it: the session and key
 * manager tokens of every request (headers `sessionToken`, `keyManagerToken`), the tokens the authenticate
 * endpoints answer, and the RS512 JWTs clients send there. Tests then check that none of them reaches a log.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running proxy. */
export type RecordingProxy = {
  readonly url: string;
  /** Every distinct secret seen so far. */
  secrets(): ReadonlySet<string>;
  close(): Promise<void>;
};

function tokenOf(body: Buffer): string | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as { token?: unknown };
    return typeof value.token === 'string' ? value.token : undefined;
  } catch {
    return undefined;
  }
}

function headerSecrets(headers: IncomingHttpHeaders): string[] {
  return [headers['sessiontoken'], headers['keymanagertoken']].flat().filter((value): value is string => typeof value === 'string');
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Starts a proxy on 127.0.0.1 (a free port) forwarding every request to `targetUrl`. */
export async function startRecordingProxy(targetUrl: string): Promise<RecordingProxy> {
  const secrets = new Set<string>();
  const record = (value: string | undefined): void => {
    if (value !== undefined && value !== '') secrets.add(value);
  };
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      headerSecrets(req.headers).forEach(record);
      const authenticating = (req.url ?? '').endsWith('/pubkey/authenticate');
      if (authenticating) record(tokenOf(body));
      const upstream = request(new URL(req.url ?? '/', targetUrl), { method: req.method, headers: req.headers });
      // A client that gives up (an aborted long poll) ends the upstream call too.
      res.on('close', () => upstream.destroy());
      upstream.on('error', () => res.destroy());
      upstream.on('response', (answer) => {
        void readAll(answer).then((answerBody) => {
          if (authenticating) record(tokenOf(answerBody));
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(answerBody);
        });
      });
      upstream.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    secrets: () => secrets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
