import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { runAuditConformance } from '../audit/audit.case.ts';
import { manualClock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';
import { Secret } from '../kernel/secret.ts';
import { ConnectionsRepo } from './connections-repo.ts';
import { migrate } from './migrate.ts';
import type { SqlDriver } from './sql.ts';

/** Options for stores that more than one driver can open at once (a PostgreSQL server). */
export interface ConformanceOptions {
  /** Opens a second driver (another "replica") on the same store as `first`. */
  readonly openPeer?: (first: SqlDriver) => Promise<SqlDriver>;
}

/**
 * The shared conformance suite every store implementation runs (embedded PGlite, PostgreSQL).
 * `open` must return a fresh, migrated store (e.g. via `openStore`); the suite opens one and closes it.
 *
 * @example runStoreConformance('embedded in-memory', () => openStore({ embedded: { path: undefined } }));
 */
export function runStoreConformance(name: string, open: () => Promise<SqlDriver>, opts: ConformanceOptions = {}): void {
  void describe(`store conformance: ${name}`, () => {
    // One store for the whole suite (opening PGlite costs seconds); blocks use disjoint data.
    let db: SqlDriver;
    before(async () => { db = await open(); });
    after(() => db.close());

    void describe('migrations', () => {

      void test('applied once; running them again (also concurrently) is a no-op', async () => {
        const names = async (): Promise<string[]> =>
          (await db.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name')).map((r) => r.name);
        const first = await names();
        assert.ok(first.includes('001_core.sql'));
        assert.deepEqual(await migrate(db), []);
        assert.deepEqual(await Promise.all([migrate(db), migrate(db)]), [[], []]);
        assert.deepEqual(await names(), first);
        const [head] = await db.query<{ n: number | string }>('SELECT count(*) AS n FROM audit_head');
        assert.equal(Number(head?.n), 1);
      });

      const openPeer = opts.openPeer;
      if (openPeer) void test('a second driver on the same store sees the schema and migrates nothing', async () => {
        const peer = await openPeer(db);
        try {
          assert.deepEqual(await migrate(peer), []);
          assert.deepEqual(await peer.query('SELECT name FROM connections'), []);
        } finally {
          await peer.close();
        }
      });
    });

    void describe('transactions', () => {
      before(async () => {
        await db.exec('CREATE TABLE conformance_scratch (id integer PRIMARY KEY, v text NOT NULL)');
      });
      const ids = async (): Promise<number[]> =>
        (await db.query<{ id: number }>('SELECT id FROM conformance_scratch ORDER BY id')).map((r) => r.id);

      void test('commits when the function resolves and returns its value', async () => {
        const out = await db.transaction(async (tx) => {
          await tx.query('INSERT INTO conformance_scratch (id, v) VALUES ($1, $2), ($3, $4)', [1, 'a', 2, 'b']);
          return (await tx.query<{ n: number | string }>('SELECT count(*) AS n FROM conformance_scratch'))[0]?.n;
        });
        assert.equal(Number(out), 2);
        assert.deepEqual(await ids(), [1, 2]);
      });

      void test('rolls back everything when the function throws, and rethrows', async () => {
        await assert.rejects(db.transaction(async (tx) => {
          await tx.query('INSERT INTO conformance_scratch (id, v) VALUES (3, $1)', ['c']);
          throw new Error('boom');
        }), /boom/);
        await assert.rejects(db.transaction(async (tx) => {
          await tx.query('INSERT INTO conformance_scratch (id, v) VALUES (4, $1)', ['d']);
          await tx.query('INSERT INTO conformance_scratch (id, v) VALUES (1, $1)', ['dup']); // unique violation
        }));
        assert.deepEqual(await ids(), [1, 2]);
        // The driver is still usable after a failed transaction.
        await db.transaction((tx) => tx.query('INSERT INTO conformance_scratch (id, v) VALUES (5, $1)', ['e']));
        assert.deepEqual(await ids(), [1, 2, 5]);
      });
    });

    void describe('listen/notify', () => {

      void test('delivers payloads in order, and nothing after unsubscribing', async () => {
        const got: string[] = [];
        let wake: () => void = () => undefined;
        const unsubA = await db.listen('gh_conf_a', (p) => { got.push(`a:${p}`); wake(); });
        const unsubB = await db.listen('gh_conf_b', (p) => { got.push(`b:${p}`); wake(); });
        const until = (n: number): Promise<void> => new Promise((resolve) => {
          wake = () => { if (got.length >= n) resolve(); };
          wake();
        });
        await db.notify('gh_conf_a', 'one');
        await db.notify('gh_conf_a', '{"json":"two"}');
        await until(2);
        assert.deepEqual(got, ['a:one', 'a:{"json":"two"}']);
        await unsubA();
        await db.notify('gh_conf_a', 'dropped');
        await db.notify('gh_conf_b', 'three'); // committed after 'dropped': arrives after it would have
        await until(3);
        assert.deepEqual(got, ['a:one', 'a:{"json":"two"}', 'b:three']);
        await unsubB();
      });
    });

    void describe('connections repository', () => {
      const key = randomBytes(32);
      const clock = manualClock(Date.parse('2025-03-01T10:00:00.000Z'));
      let repo: ConnectionsRepo;
      before(() => { repo = new ConnectionsRepo(db, key, clock); });

      void test('create, get, list, update, delete', async () => {
        const created = await repo.create({
          name: 'crm', type: 'postgres', url: 'postgres://app@db:5432/crm', description: 'CRM',
          credentials: { password: new Secret('pw-crm-1') }, tags: ['prod', 'pii'], createdBy: 'admin',
        });
        assert.equal(created.createdAt, '2025-03-01T10:00:00.000Z');
        assert.equal(created.createdBy, 'admin');
        await repo.create({ name: 'openai', type: 'llm', provider: 'openai', url: 'https://api.openai.com' });
        const got = await repo.get('crm');
        assert.ok(got);
        assert.deepEqual({ ...got, credentials: undefined }, { ...created, credentials: undefined });
        assert.equal(got.credentials.password?.reveal(), 'pw-crm-1');
        assert.deepEqual(got.tags, ['prod', 'pii']);
        assert.deepEqual((await repo.list()).map((c) => c.name), ['crm', 'openai']);
        assert.equal((await repo.get('openai'))?.provider, 'openai');
        assert.equal(await repo.get('nope'), undefined);

        clock.advance(60_000);
        const updated = await repo.update('crm', { url: 'postgres://app@db2:5432/crm', description: null, credentials: { password: new Secret('pw-crm-2') }, tags: [] });
        assert.equal(updated.url, 'postgres://app@db2:5432/crm');
        assert.equal(updated.description, undefined);
        assert.deepEqual(updated.tags, []);
        assert.equal(updated.createdAt, '2025-03-01T10:00:00.000Z');
        assert.equal(updated.updatedAt, '2025-03-01T10:01:00.000Z');
        assert.equal((await repo.get('crm'))?.credentials.password?.reveal(), 'pw-crm-2');

        assert.equal(await repo.delete('crm'), true);
        assert.equal(await repo.delete('crm'), false);
        assert.equal(await repo.get('crm'), undefined);
        await assert.rejects(repo.update('crm', { url: 'x' }), (e) => isGatehouseError(e, 'not_found'));
      });

      void test('type-specific fields (ssh host_key, http pass_media_types) are stored, kept by a patch without them, replaced by one with them', async () => {
        const key1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
        await repo.create({ name: 'web09', type: 'ssh', url: 'ssh://deploy@web09:22', host_key: key1, credentials: { password: new Secret('pw') } });
        assert.equal((await repo.get('web09'))?.host_key, key1);
        assert.equal((await repo.update('web09', { url: 'ssh://deploy@web09:2222' })).host_key, key1);
        const key2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBeT3iYzpdPcxVUs4yPqbxbDG1mmNt3Ws2tAJHAIkUt8';
        assert.equal((await repo.update('web09', { host_key: key2 })).host_key, key2);
        await repo.create({ name: 'files', type: 'http', url: 'https://files.example', pass_media_types: ['application/pdf'] });
        assert.deepEqual((await repo.get('files'))?.pass_media_types, ['application/pdf']);
        assert.equal((await repo.get('files'))?.host_key, undefined);
        await assert.rejects(repo.create({ name: 'hk', type: 'ssh', url: 'ssh://a@b', host_key: 'x'.repeat(20_000) }), (e) => isGatehouseError(e, 'validation_failed'));
        // Kept in the fields column by their declared names (no field is named by the store).
        const [row] = await db.query<{ fields: unknown }>("SELECT fields FROM connections WHERE name = 'files'");
        assert.deepEqual(typeof row?.fields === 'string' ? JSON.parse(row.fields) : row?.fields, { pass_media_types: ['application/pdf'] });
        // null clears a type-specific field; bounds hold for every declared field.
        assert.equal((await repo.update('files', { pass_media_types: null })).pass_media_types, undefined);
        await assert.rejects(repo.update('files', { pass_media_types: Array.from({ length: 65 }, (_, i) => `a/b${i}`) }), (e) => isGatehouseError(e, 'validation_failed'));
        await assert.rejects(repo.create({ name: 'hk0', type: 'ssh', url: 'ssh://a@b', host_key: '' }), (e) => isGatehouseError(e, 'validation_failed'));
        // provider keeps its own column; a patch with null clears it like the others.
        await repo.create({ name: 'llm9', type: 'llm', provider: 'anthropic', url: 'https://api.anthropic.com' });
        const [prow] = await db.query<{ provider: string | null; fields: unknown }>("SELECT provider, fields FROM connections WHERE name = 'llm9'");
        assert.equal(prow?.provider, 'anthropic');
        assert.deepEqual(typeof prow?.fields === 'string' ? JSON.parse(prow.fields) : prow?.fields, {});
        assert.equal((await repo.update('llm9', { provider: null })).provider, undefined);
      });

      void test('a duplicate name is a conflict; invalid input fails validation', async () => {
        await repo.create({ name: 'dup', type: 'http', url: 'https://example.com' });
        await assert.rejects(repo.create({ name: 'dup', type: 'http', url: 'https://other.example.com' }), (e) => isGatehouseError(e, 'conflict'));
        assert.equal((await repo.get('dup'))?.url, 'https://example.com');
        await assert.rejects(repo.create({ name: 'bad name!', type: 'http', url: 'https://x' }), (e) => isGatehouseError(e, 'validation_failed'));
        await assert.rejects(repo.create({ name: 'badtype', type: 'ftp' as 'http', url: 'https://x' }), (e) => isGatehouseError(e, 'validation_failed'));
      });

      void test('credentials are sealed at rest and bound to their key and row', async () => {
        const plain = `sk-live-${randomBytes(12).toString('hex')}`;
        await repo.create({ name: 'sealed', type: 'llm', provider: 'openai', url: 'https://api.openai.com', credentials: { api_key: new Secret(plain) } });
        await repo.create({ name: 'other', type: 'llm', provider: 'openai', url: 'https://api.openai.com', credentials: { api_key: new Secret('other-key') } });
        const [raw] = await db.query<{ enc: string; whole: string }>("SELECT credentials_enc AS enc, c::text AS whole FROM connections c WHERE name = 'sealed'");
        assert.ok(raw);
        assert.match(raw.enc, /^v1:/);
        assert.ok(!raw.whole.includes(plain) && !raw.whole.includes('sk-live'));
        assert.ok(!JSON.stringify(await repo.get('sealed')).includes(plain));
        await assert.rejects(new ConnectionsRepo(db, randomBytes(32)).get('sealed'), (e) => isGatehouseError(e, 'internal'));
        // A sealed value moved to another row does not open there.
        await db.query("UPDATE connections SET credentials_enc = (SELECT credentials_enc FROM connections WHERE name = 'sealed') WHERE name = 'other'");
        await assert.rejects(repo.get('other'), (e) => isGatehouseError(e, 'internal'));
        assert.equal((await repo.get('sealed'))?.credentials.api_key?.reveal(), plain);
      });
    });

    runAuditConformance(() => db, opts);
  });
}
