import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { isGatehouseError } from '../kernel/errors.ts';
import { readBody } from './body.ts';

test('readBody of a request whose client already went away rejects at once (client_aborted) instead of never settling', async () => {
  const gone = Promise.withResolvers<IncomingMessage>();
  const server = createServer((req) => { req.once('close', () => { gone.resolve(req); }); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const client = request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'content-length': '10' } });
    client.on('error', () => undefined);
    client.write('abc');
    // The client hangs up mid-body, before the gateway starts reading it (as while an exchange waits for admission).
    setTimeout(() => { client.destroy(); }, 50);
    const req = await gone.promise;
    assert.equal(req.destroyed, true);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      readBody(req, 1024).then(() => 'resolved', (e: unknown) => e),
      new Promise((r) => { timer = setTimeout(() => { r('never settled'); }, 2_000); }),
    ]);
    clearTimeout(timer);
    assert.ok(isGatehouseError(outcome, 'bad_request') && outcome.extra.client_aborted === true, String(outcome));
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
