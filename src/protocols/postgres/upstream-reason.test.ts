import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { GatehouseError } from '../../kernel/errors.ts';
import { connectUpstream } from './upstream.ts';
import { upstreamFailureReason } from './upstream-reason.ts';

test('a refused upstream is named as such (a real refused socket), without host or port', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => { r(); }));
  const err = await connectUpstream({ host: '127.0.0.1', port, user: 'u', database: 'd', password: undefined, sslmode: 'disable' }).then(() => undefined, (e: unknown) => e);
  const reason = upstreamFailureReason(err);
  assert.match(reason, /refused the connection/);
  assert.doesNotMatch(reason, new RegExp(String(port)));
});

test('upstream SQLSTATEs and other causes have their own words', () => {
  assert.match(upstreamFailureReason(new GatehouseError('upstream_unreachable', 'x', { sqlstate: '28P01' })), /rejected the credentials .*28P01/);
  assert.match(upstreamFailureReason(new GatehouseError('upstream_unreachable', 'x', { sqlstate: '3D000' })), /does not exist/);
  assert.match(upstreamFailureReason(new Error('connect timed out')), /timed out/);
  assert.match(upstreamFailureReason(new Error('weird')), /gateway log/);
});
