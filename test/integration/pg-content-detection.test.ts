/**
 * Content detection on the PostgreSQL path through the real listener and the `pg` driver (text and
 * binary results): values disguised with Unicode are masked, a bare 9-digit number is an SSN in a
 * column named for it, and a rule listing SECRET masks JWTs and PEM private keys.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../harness/gateway.ts';
import { pgBackends, type UpstreamDb } from '../harness/pglite-server.ts';
import { getTestPostgres } from '../harness/postgres-server.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl';
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n-----END RSA PRIVATE KEY-----';
const INIT = `
CREATE TABLE people (id int PRIMARY KEY, ssn text, ssn_number int8, order_no int8, note text);
INSERT INTO people VALUES
  (1, '123456789', 219099999, 123456789, 'card ４１１１ １１１１ １１１１ １１１１ mail b\u200bob@example.com'),
  (2, '078-05-1120', 78051120, 78051120, 'card 4111.1111.1111.1111, ssn 123\u201345\u20136789, id ٠٧٨-٠٥-١١٢٠'),
  (3, 'n/a', NULL, NULL, 'token ${JWT} key ${PEM.replaceAll('\n', '\\n')} mail "john doe"@example.com');
`;
/** Every value a client must never see, in any of its forms. */
const RAW = ['123456789', '219099999', '4111', '１１１１', 'b\u200bob', 'bob@example.com', '078-05-1120', '٠٧٨', JWT.slice(0, 20), 'MIIEpAIBAAKC', 'john doe'];

const backends = await pgBackends(getTestPostgres);

for (const backend of backends) {
  describe(`PostgreSQL content detection over ${backend.name}`, () => {
    let up: UpstreamDb;
    let t: TestGateway;
    let dev: string;

    before(async () => {
      up = await backend.start(INIT);
      t = await startTestGateway({
        env: { APP_DB_PASSWORD: up.password ?? 'unused' },
        yaml: [
          'connections:',
          `  - { name: app, type: postgres, url: "${up.url}", credentials: { password: "\${APP_DB_PASSWORD}" } }`,
          'masking:',
          '  rules:',
          '    - { connections: [app], direction: response, entities: [EMAIL, CREDIT_CARD, US_SSN, SECRET], strategy: redact }',
        ].join('\n'),
      });
      const r = await t.api('POST', '/api/v1/api-keys', { user: 'dev', groups: ['developers'] });
      assert.equal(r.status, 201);
      dev = String(r.json.key);
    });
    after(async () => {
      await t.close();
      await up.stop();
    });

    for (const binary of [false, true]) {
      test(`disguised values, ssn columns and secrets are masked (${binary ? 'binary' : 'text'} results)`, async () => {
        const config: pg.ClientConfig & { binary: boolean } = { host: t.postgres.host, port: t.postgres.port, user: 'u', database: 'app', password: dev, binary };
        const c = new pg.Client(config);
        c.on('error', () => undefined);
        await c.connect();
        try {
          const r = await c.query<{ id: number; ssn: string; ssn_number: string | null; order_no: string | null; note: string }>('SELECT id, ssn, ssn_number, order_no, note FROM people ORDER BY id');
          const [a, b, d] = r.rows;
          assert.equal(a?.ssn, '[US_SSN]');
          assert.equal(b?.ssn, '[US_SSN]');
          assert.notEqual(a?.ssn_number, '219099999');
          assert.equal(String(a?.order_no), '123456789', 'the same number in a column not named for it is left alone');
          assert.equal(a?.note, 'card [CREDIT_CARD] mail [EMAIL]');
          assert.equal(b?.note, 'card [CREDIT_CARD], ssn [US_SSN], id [US_SSN]');
          assert.equal(d?.note, 'token [JWT] key [PRIVATE_KEY] mail [EMAIL]');
          const seen = JSON.stringify(r.rows.map((row) => ({ ...row, order_no: null })));
          for (const v of RAW) assert.ok(!seen.includes(v), `${v} reached the client in ${seen}`);
        } finally { await c.end(); }
      });
    }
  });
}
