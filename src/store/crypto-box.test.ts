import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { isGatehouseError } from '../kernel/errors.ts';
import { loadOrCreateMasterKey, open, seal } from './crypto-box.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-box-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const internal = (e: unknown): boolean => isGatehouseError(e, 'internal');

test('seal/open round-trips any text; sealed form is versioned and never repeats', () => {
  const key = randomBytes(32);
  fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.string(), (text, ctx) => {
    const s = seal(key, text, ctx);
    assert.match(s, /^v1:[A-Za-z0-9+/]+=*$/);
    assert.equal(open(key, s, ctx), text);
  }));
  assert.notEqual(seal(key, 'same'), seal(key, 'same'));
  assert.ok(!seal(key, 'sk-live-abcdef').includes('sk-live'));
});

test('wrong key, wrong context, tampering, truncation and unknown versions do not open', () => {
  const key = randomBytes(32);
  const s = seal(key, 'secret', 'connection:a');
  assert.throws(() => open(randomBytes(32), s, 'connection:a'), internal);
  assert.throws(() => open(key, s, 'connection:b'), internal);
  const raw = Buffer.from(s.slice(3), 'base64');
  raw[raw.length - 1]! ^= 1;
  assert.throws(() => open(key, `v1:${raw.toString('base64')}`, 'connection:a'), internal);
  assert.throws(() => open(key, 'v1:AAAA', 'connection:a'), internal);
  assert.throws(() => open(key, `v2:${s.slice(3)}`, 'connection:a'), internal);
  assert.throws(() => seal(randomBytes(16), 'x'), internal);
  assert.throws(() => open(key, s, 'connection:a'.replace('a', 'A')), (e) => internal(e) && !String(e).includes('secret'));
});

test('master key: created once with mode 0600, then read back unchanged', () => {
  const d = join(dir, 'store');
  const k1 = loadOrCreateMasterKey(d);
  assert.equal(k1.length, 32);
  assert.equal(statSync(join(d, 'master.key')).mode & 0o777, 0o600);
  assert.deepEqual(loadOrCreateMasterKey(d), k1);
  assert.equal(readFileSync(join(d, 'master.key'), 'utf8').trim(), k1.toString('base64'));
});

test('master key: a malformed or group-readable file is refused', () => {
  const bad = join(dir, 'bad');
  loadOrCreateMasterKey(bad);
  chmodSync(join(bad, 'master.key'), 0o644);
  assert.throws(() => loadOrCreateMasterKey(bad), (e) => isGatehouseError(e, 'config_invalid'));
  writeFileSync(join(bad, 'master.key'), 'dG9vIHNob3J0\n', { mode: 0o600 });
  chmodSync(join(bad, 'master.key'), 0o600);
  assert.throws(() => loadOrCreateMasterKey(bad), (e) => isGatehouseError(e, 'config_invalid'));
});
