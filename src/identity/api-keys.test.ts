import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { openEmbedded } from '../store/embedded.ts';
import { migrate } from '../store/migrate.ts';
import type { SqlDriver } from '../store/sql.ts';
import { ApiKeys } from './api-keys.ts';
import { bootstrapAdmin } from './bootstrap.ts';

const T0 = Date.UTC(2030, 0, 1);
let db: SqlDriver;

before(async () => {
  db = await openEmbedded(undefined);
  await migrate(db);
});
after(async () => { await db.close(); });

async function rejectsInvalid(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: unknown) => isGatehouseError(err, 'invalid_credential') && err.detail === 'API key is invalid, expired or revoked');
}

describe('ApiKeys', () => {
  test('creates a ghk_ key of 40 base62 chars whose principal is the user', async () => {
    const keys = new ApiKeys(db, manualClock(T0));
    const { key, record } = await keys.create({ user: 'alice', groups: ['dev', 'ops', 'dev'], description: 'laptop', createdBy: 'admin' });
    assert.match(key, /^ghk_[0-9A-Za-z]{40}$/);
    assert.equal(key.slice(4, 12), record.id);
    assert.deepEqual(record.groups, ['dev', 'ops']);
    assert.equal(record.createdAt, T0);
    assert.equal(record.description, 'laptop');
    assert.equal(JSON.stringify(record).includes(key.slice(12)), false);
    const p = await keys.verify(key);
    assert.deepEqual(p, { kind: 'user', id: 'alice', groups: ['dev', 'ops'], via: 'api_key', credentialId: record.id });
  });

  test('user + agent is the agent acting for the user; agent alone is an agent', async () => {
    const keys = new ApiKeys(db, manualClock(T0));
    const both = await keys.create({ user: 'bob', agent: 'crm-bot', groups: ['sales'], agentGroups: ['bots'] });
    const p = await keys.verify(both.key);
    assert.equal(p.kind, 'user');
    assert.equal(p.id, 'bob');
    assert.deepEqual(p.groups, ['sales']);
    assert.deepEqual(p.agent, { id: 'crm-bot', groups: ['bots'] });
    const solo = await keys.create({ agent: 'etl', groups: ['pipelines'] });
    const a = await keys.verify(solo.key);
    assert.equal(a.kind, 'agent');
    assert.equal(a.id, 'etl');
    assert.deepEqual(a.groups, ['pipelines']);
    assert.equal(a.agent, undefined);
  });

  test('rejects invalid input', async () => {
    const keys = new ApiKeys(db, manualClock(T0));
    const bad = async (input: Parameters<ApiKeys['create']>[0]): Promise<void> => {
      await assert.rejects(keys.create(input), (e: unknown) => isGatehouseError(e, 'validation_failed'));
    };
    await bad({});
    await bad({ user: '-alice' });
    await bad({ user: 'a b' });
    await bad({ user: 'x'.repeat(129) });
    await bad({ agent: 'bot', groups: ['ok', 'no way'] });
    await bad({ user: 'alice', agentGroups: ['bots'] });
    await bad({ user: 'alice', expiresAt: T0 });
  });

  test('stores only a hash: the key string is in no column of any row', async () => {
    const keys = new ApiKeys(db, manualClock(T0));
    const { key, record } = await keys.create({ user: 'carol' });
    const rows = await db.query<{ row: string }>('SELECT to_jsonb(k)::text AS row FROM api_keys k WHERE id = $1', [record.id]);
    assert.equal(rows.length, 1);
    const text = rows[0]!.row;
    assert.equal(text.includes(key), false);
    assert.equal(text.includes(key.slice(12)), false, 'the secret part is not stored either');
    assert.match(text, /"key_hash": "[0-9a-f]{64}"/);
  });

  test('malformed, unknown and tampered keys fail with the same error', async () => {
    const keys = new ApiKeys(db, manualClock(T0));
    const { key } = await keys.create({ user: 'dave' });
    await rejectsInvalid(keys.verify(''));
    await rejectsInvalid(keys.verify('ghk_short'));
    await rejectsInvalid(keys.verify(`${key}x`));
    await rejectsInvalid(keys.verify(`ghk_ZZZZZZZZ${key.slice(12)}`));
    const last = key.at(-1) === 'a' ? 'b' : 'a';
    await rejectsInvalid(keys.verify(key.slice(0, -1) + last));
  });

  test('expiry follows the injected clock', async () => {
    const clock = manualClock(T0);
    const keys = new ApiKeys(db, clock);
    const { key } = await keys.create({ user: 'erin', expiresAt: T0 + 60_000 });
    assert.equal((await keys.verify(key)).expiresAt, T0 + 60_000);
    clock.advance(59_999);
    await keys.verify(key);
    clock.advance(1);
    await rejectsInvalid(keys.verify(key));
  });

  test('revocation takes effect at once, even right after a successful verify', async () => {
    const keys = new ApiKeys(db, manualClock(T0));
    const { key, record } = await keys.create({ user: 'frank' });
    await keys.verify(key);
    assert.equal(await keys.revoke(record.id, 'admin'), true);
    await rejectsInvalid(keys.verify(key));
    assert.equal(await keys.revoke(record.id), false, 'already revoked');
    assert.equal(await keys.revoke('nokey123'), false);
    assert.equal((await keys.get(record.id))?.revokedAt, T0);
  });

  test('list and get return records, never hashes; lastUsedAt is recorded', async () => {
    const clock = manualClock(T0);
    const keys = new ApiKeys(db, clock);
    const { key, record } = await keys.create({ user: 'gina' });
    clock.advance(5000);
    await keys.verify(key);
    const got = await keys.get(record.id);
    assert.equal(got?.lastUsedAt, T0 + 5000);
    assert.equal(await keys.get('nope'), undefined);
    const all = await keys.list();
    assert.ok(all.some((r) => r.id === record.id));
    for (const r of all) assert.equal(Object.keys(r).some((k) => /hash/i.test(k)), false);
  });
});

describe('bootstrapAdmin', () => {
  test('writes one admin key with mode 0600, reuses it, replaces it once revoked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-boot-'));
    try {
      const keys = new ApiKeys(db, manualClock(T0));
      const first = await bootstrapAdmin(keys, dir, { user: 'admin', group: 'admins' });
      assert.equal(first.created, true);
      assert.equal(statSync(first.path).mode & 0o777, 0o600);
      const key = readFileSync(first.path, 'utf8').trim();
      const p = await keys.verify(key);
      assert.equal(p.id, 'admin');
      assert.deepEqual(p.groups, ['admins']);

      const again = await bootstrapAdmin(keys, dir, { user: 'admin', group: 'admins' });
      assert.equal(again.created, false);
      assert.equal(readFileSync(first.path, 'utf8').trim(), key);

      assert.equal(await keys.revoke(p.credentialId!), true);
      const replaced = await bootstrapAdmin(keys, dir, { user: 'admin', group: 'admins' });
      assert.equal(replaced.created, true);
      const key2 = readFileSync(first.path, 'utf8').trim();
      assert.notEqual(key2, key);
      assert.equal((await keys.verify(key2)).id, 'admin');

      writeFileSync(first.path, 'garbage\n', { mode: 0o600 });
      assert.equal((await bootstrapAdmin(keys, dir, { user: 'admin', group: 'admins' })).created, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
