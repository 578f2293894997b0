import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/load.ts';
import type { ConnectionsRepo } from '../store/connections-repo.ts';
import { ConnectionRegistry } from './registry.ts';

const noRepo = { get: () => Promise.resolve(undefined), list: () => Promise.resolve([]) } as unknown as ConnectionsRepo;

test('a config connection reaches the data path with its timeouts in milliseconds (defaults and as written), parsed once', async () => {
  const c = loadConfig({
    env: {},
    text: 'connections:\n'
      + '  - { name: a, type: llm, provider: openai, url: "https://api.openai.com" }\n'
      + '  - { name: b, type: http, url: "https://api.example.com", timeouts: { connect: 250ms, headers: 2m } }\n',
  });
  const reg = new ConnectionRegistry(c.connections, noRepo);
  assert.deepEqual((await reg.get('a'))!.timeoutsMs, { connect: 10_000, headers: 60_000, body: 300_000 });
  assert.deepEqual((await reg.get('b'))!.timeoutsMs, { connect: 250, headers: 120_000, body: 300_000 });
  assert.equal((await reg.get('b'))!.timeoutsMs, (await reg.get('b'))!.timeoutsMs);
});
