import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError, type Io } from '../args.ts';
import { reviewsApprove, reviewsDeny } from './reviews.ts';

const io: Io = { out: () => undefined, err: () => undefined, env: {}, cwd: '/' };

test('--for is a duration checked where it enters, by the shared parser, before any request', async () => {
  for (const bad of ['soon', '30', '1.5h', '30 m', '0m', '']) {
    await assert.rejects(reviewsApprove.run(['r-1', '--for', bad], io), (e: unknown) => e instanceof UsageError && /--for takes a duration/.test(e.message), bad);
  }
  await assert.rejects(reviewsDeny.run(['r-1', '--reason', 'no', '--for', '30m'], io), (e: unknown) => e instanceof UsageError && /only to reviews approve/.test(e.message));
});
