import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMANDS } from './registry.ts';

test('every lazily registered command loads, with the name and summary --help shows', async () => {
  for (const e of COMMANDS) {
    const cmd = await e.load();
    assert.equal(cmd.name, e.name);
    assert.equal(cmd.summary, e.summary, e.name);
  }
});
