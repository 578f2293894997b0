import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { getTestPostgres, type TestDatabase } from '../harness/postgres-server.ts';
import { startFakeLlm, FAKE_OPENAI_KEY, type FakeLlm } from '../harness/fake-llm.ts';
import { CHROMIUM, launchBrowser, seriousA11y, shot, traps, watch, type TestBrowser } from './harness.ts';

/**
 * The web console in Debian's Chromium, driven by playwright-core, against the whole gateway
 * with a real PostgreSQL upstream and real `psql` clients: a DELETE held for review is approved
 * in the inbox (psql prints DELETE 1), a denial's reason reaches psql, sessions replay, recorded
 * XSS payloads stay text, CSRF and cross-principal reads are refused, zero CSP violations, axe
 * finds nothing serious, and every page is kept as a screenshot in test-artifacts/console.
 */

const PAYLOAD_ROW = '<img src=x onerror="window.__xss=1">';
const PAYLOAD_PROMPT = '<img src=x onerror="window.__xss=2"> summarise the ticket';
const PAYLOAD_REPLY = 'Done. <script>window.__xss=3</script><img src=x onerror="window.__xss=4">';

const POLICIES = `${TEST_POLICIES}
@id("dba-approves")
permit (principal in Group::"dba", action == Action::"review.approve", resource);

@id("developers-use-models")
permit (principal in Group::"developers", action == Action::"llm.invoke", resource);
`;

function split(url: string): { url: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), password };
}

interface Psql { readonly child: ChildProcess; readonly done: Promise<{ code: number | null; stdout: string; stderr: string }> }

describe('web console in Chromium', () => {
  let db: TestDatabase;
  let t: TestGateway;
  let fake: FakeLlm;
  let browser: TestBrowser;
  let alice: string;
  let bob: string;
  let dave: string;
  let admin: pg.Client;
  const pages: { page: Page; errors: string[] }[] = [];

  const psql = (sql: string, key = alice, database = 'crm'): Psql => {
    const child = spawn('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-h', t.postgres.host, '-p', String(t.postgres.port), '-U', 'alice', '-d', database, '-c', sql], {
      env: { ...process.env, PGPASSWORD: key, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    return { child, done: new Promise((resolve) => { child.once('close', (code) => { resolve({ code, stdout, stderr }); }); }) };
  };

  const open = async (ctx: BrowserContext): Promise<Page> => {
    const page = await ctx.newPage();
    pages.push({ page, ...watch(page) });
    return page;
  };

  const signIn = async (page: Page, key: string): Promise<void> => {
    await page.goto(`${t.url}/`);
    await page.getByLabel('Gatehouse API key').fill(key);
    assert.match(page.url(), /\/ui\/signin\?next=/);
    await page.getByRole('button', { name: 'Sign in with API key' }).click();
    await page.getByRole('heading', { name: 'Reviews' }).waitFor();
  };

  /** The review id psql's statement is held under (from the API, as the requester). */
  const pendingReview = async (): Promise<string> => {
    for (let i = 0; i < 200; i++) {
      const r = await t.api('GET', '/api/v1/reviews?status=pending', undefined, alice);
      const items = r.json.items as { id: string }[];
      if (items.length > 0) return items[0]!.id;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('no pending review appeared');
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM} (apt-get install chromium; .ci/run does)`);
    const d = await getTestPostgres();
    if (!d) throw new Error('no PostgreSQL server (set GATEHOUSE_TEST_PG_URL or install postgresql)');
    db = d;
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('CREATE TABLE customers (id int PRIMARY KEY, name text, note text)');
    await admin.query('INSERT INTO customers VALUES (1, $1, $2), (2, $3, $4), (3, $5, $6)', ['ada', PAYLOAD_ROW, 'bob', 'vip', 'cy', 'new']);
    fake = await startFakeLlm();
    fake.behavior = { reply: PAYLOAD_REPLY, chunk: 7 };
    const conn = split(db.url);
    t = await startTestGateway({
      policies: POLICIES,
      yaml: [
        'connections:',
        `  - { name: crm, type: postgres, url: "${conn.url}", credentials: { password: "${conn.password || 'unused'}" } }`,
        `  - { name: crmjit, type: postgres, url: "${conn.url}", credentials: { password: "${conn.password || 'unused'}" } }`,
        `  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }`,
        'reviews:',
        '  hold_timeout: 90s',
        '  rules:',
        '    - { name: crm-writes, connections: [crm], actions: [sql.write], kind: command, approvers: [dba] }',
        '    - { name: crm-jit, connections: [crmjit], actions: [sql.write], kind: jit, approvers: [dba], duration: 1h }',
      ].join('\n'),
    });
    alice = String((await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'] })).json.key);
    bob = String((await t.api('POST', '/api/v1/api-keys', { user: 'bob', groups: ['dba'] })).json.key);
    dave = String((await t.api('POST', '/api/v1/api-keys', { user: 'dave', groups: ['developers'], agent: 'helpdesk-bot' })).json.key);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
    await admin?.end();
    await db?.stop();
  });

  test('a DELETE held in psql is approved in the inbox and psql prints DELETE 1; a denial reason reaches psql', async () => {
    // A read whose result carries an XSS payload, recorded for the replay test.
    const read = await psql('SELECT id, name, note FROM customers ORDER BY id').done;
    assert.equal(read.code, 0, read.stderr);
    assert.ok(read.stdout.includes(PAYLOAD_ROW));

    const held = psql('DELETE FROM customers WHERE id = 1');
    const id = await pendingReview();
    const page = await open(await browser.context());
    await signIn(page, bob);
    const row = page.getByRole('link', { name: /DELETE FROM customers WHERE id = 1/ });
    await row.waitFor();
    await shot(page, 'inbox');
    assert.deepEqual(await seriousA11y(page), [], 'inbox: serious accessibility violations');
    await row.click();
    await page.getByText('crm-writes').waitFor();
    assert.match(page.url(), new RegExp(`/ui/reviews/${id}$`));
    await shot(page, 'review');
    assert.deepEqual(await seriousA11y(page), [], 'review page: serious accessibility violations');
    await page.getByRole('button', { name: 'Approve' }).click();
    const out = await held.done;
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^DELETE 1$/m);
    await page.getByText('approved', { exact: true }).first().waitFor();

    // Denial: the reason is required, and the requester's psql shows it.
    const second = psql('DELETE FROM customers WHERE id = 2');
    const id2 = await pendingReview();
    await page.goto(`${t.url}/ui/reviews/${id2}`);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByText('A reason is required to deny').waitFor();
    await page.getByLabel(/Reason \(required to deny/).fill('change freeze until Monday');
    await page.getByRole('button', { name: 'Deny' }).click();
    const denied = await second.done;
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /change freeze until Monday/);
    assert.equal(Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM customers')).rows[0]?.n), 2);

    // History stays: the decided reviews are searchable.
    await page.goto(`${t.url}/ui/inbox?state=any&text=freeze`);
    await page.getByRole('link', { name: /DELETE FROM customers WHERE id = 2/ }).waitFor();
    assert.equal(await page.getByRole('link', { name: /WHERE id = 1/ }).count(), 0);

    // CSRF: the page's own cookie without the token is refused by the API.
    const status = await page.evaluate(`fetch('/api/v1/reviews/${id2}/revoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      .then(async (r) => [r.status, (await r.json()).code])`);
    assert.deepEqual(status, [403, 'csrf_failed']);
  });

  test('replay: the psql session (result rows) and an LLM stream; payloads stay text; chain badge from the server', async () => {
    // An LLM exchange, streamed, with payloads in the prompt and the answer.
    const res = await fetch(`${t.url}/proxy/openai/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${dave}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-test', stream: true, messages: [{ role: 'user', content: PAYLOAD_PROMPT }] }),
    });
    assert.equal(res.status, 200);
    await res.text();

    const ctx = await browser.context();
    const page = await open(ctx);
    await signIn(page, t.adminKey);
    await page.goto(`${t.url}/ui/sessions?user=alice`);
    const first = page.locator('table.list tbody tr').first();
    await first.waitFor();
    await shot(page, 'sessions');
    assert.deepEqual(await seriousA11y(page), [], 'sessions: serious accessibility violations');

    const sessions = (await t.api('GET', '/api/v1/sessions?limit=50')).json.items as { id: string; user?: string; connection?: string; protocol: string }[];
    const pgSession = sessions.find((s) => s.user === 'alice' && s.connection === 'crm');
    const llmSession = sessions.find((s) => s.user === 'dave' && s.connection === 'openai');
    assert.ok(pgSession && llmSession, JSON.stringify(sessions));

    // The first alice session is the SELECT (sessions list newest first: find the one with the payload).
    const aliceSessions = sessions.filter((s) => s.user === 'alice' && s.connection === 'crm');
    let shown = false;
    for (const s of aliceSessions) {
      await page.goto(`${t.url}/ui/sessions/${encodeURIComponent(s.id)}`);
      await page.locator('[data-testid=chain]').waitFor();
      if (await page.getByText(PAYLOAD_ROW, { exact: false }).count() > 0) { shown = true; break; }
    }
    assert.ok(shown, 'the recorded row with the payload is shown as text');
    assert.match(await page.locator('[data-testid=chain]').innerText(), /chain verified up to event \d+/);
    await page.getByLabel('Jump to event').selectOption({ index: 1 });
    await shot(page, 'replay-sql');
    assert.deepEqual(await seriousA11y(page), [], 'replay: serious accessibility violations');

    await page.goto(`${t.url}/ui/sessions/${encodeURIComponent(llmSession.id)}`);
    await page.locator('[data-testid=chain]').waitFor();
    await page.getByText('summarise the ticket', { exact: false }).first().waitFor();
    const text = await page.locator('ol.timeline').innerText();
    assert.ok(text.includes('<img src=x onerror="window.__xss=2">'), `the prompt payload is shown as text: ${text.slice(0, 3000)}`);
    assert.ok(text.includes('<script>window.__xss=3</script>'), 'the streamed answer is shown as text');
    await shot(page, 'replay-llm');

    // Audit, admin, playground: load, axe, screenshot.
    for (const [path, name, ready] of [['/ui/audit', 'audit', /chain verified|chain broken/], ['/ui/admin', 'admin', /Create an API key/], ['/ui/playground', 'playground', /Explain/]] as const) {
      await page.goto(`${t.url}${path}`);
      await page.getByText(ready).first().waitFor();
      if (name === 'playground') {
        await page.getByLabel('Principal (user)').fill('alice');
        await page.getByLabel('Groups (comma separated)').fill('developers');
        await page.getByLabel('Connection').fill('crm');
        await page.getByLabel('SQL (optional)').fill('DELETE FROM customers WHERE id = 3');
        await page.getByRole('button', { name: 'Explain' }).click();
        await page.getByText('Decision:').waitFor();
        assert.match(await page.locator('main').innerText(), /review/);
      }
      await shot(page, name);
      assert.deepEqual(await seriousA11y(page), [], `${name}: serious accessibility violations`);
    }

    // A principal cannot open another's session: alice sees her own, not dave's.
    const alicePage = await open(await browser.context());
    await signIn(alicePage, alice);
    await alicePage.goto(`${t.url}/ui/sessions/${encodeURIComponent(llmSession.id)}`);
    await alicePage.getByText('Something went wrong').waitFor();
    assert.match(await alicePage.locator('main').innerText(), /no such session/);
    const own = await alicePage.evaluate<string[]>(`fetch('/api/v1/sessions').then((r) => r.json()).then((j) => j.items.map((s) => s.user))`);
    assert.ok(own.length > 0 && own.every((u) => u === 'alice'), JSON.stringify(own));
  });

  test('a jit review is approved in the inbox with a chosen time window: the grant lasts that long, not the rule\'s hour', async () => {
    const held = psql("UPDATE customers SET note = 'jit' WHERE id = 3", alice, 'crmjit');
    let id = '';
    for (let i = 0; i < 200 && id === ''; i++) {
      const items = (await t.api('GET', '/api/v1/reviews?status=pending', undefined, alice)).json.items as { id: string; rule: string }[];
      id = items.find((r) => r.rule === 'crm-jit')?.id ?? '';
      if (id === '') await new Promise((res) => setTimeout(res, 100));
    }
    assert.notEqual(id, '', 'the jit review appeared');
    const page = await open(await browser.context());
    await signIn(page, bob);
    await page.goto(`${t.url}/ui/reviews/${id}`);
    const windowSel = page.getByLabel('Time window of the grant');
    await windowSel.waitFor();
    assert.deepEqual(await windowSel.locator('option').allInnerTexts(), ['1 h 0 min (the rule\'s window)', '5 min', '15 min', '30 min'],
      'the rule\'s hour (the default) and the shorter common windows');
    await windowSel.selectOption({ label: '15 min' });
    await shot(page, 'review-jit');
    assert.deepEqual(await seriousA11y(page), [], 'jit review page: serious accessibility violations');
    await page.getByRole('button', { name: 'Approve' }).click();
    const out = await held.done;
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^UPDATE 1$/m);
    await page.getByRole('button', { name: 'Revoke this grant' }).waitFor();
    const r = (await t.api('GET', `/api/v1/reviews/${id}`, undefined, bob)).json as { status: string; decided_at: string; expires_at: string; grant_seconds: number; approvals: { by: { id: string } }[] };
    assert.equal(r.status, 'approved');
    assert.equal(Date.parse(r.expires_at) - Date.parse(r.decided_at), 15 * 60_000, 'the grant ends 15 min after the approval');
    assert.equal(r.grant_seconds, 900);
    assert.deepEqual(r.approvals.map((a) => a.by.id), ['bob']);
    // The active grant covers the next write without a new review.
    const other = psql("UPDATE customers SET note = 'jit2' WHERE id = 3", alice, 'crmjit');
    const again = await other.done;
    assert.equal(again.code, 0, `the active grant covers the next write: ${again.stderr}`);
  });

  test('no payload ran, no CSP violation, no console error on any page', async () => {
    assert.ok(pages.length > 0);
    for (const { page, errors } of pages) {
      const tr = await traps(page);
      assert.equal(tr.xss, 0, 'an XSS payload executed');
      assert.deepEqual(tr.csp, [], 'CSP violations');
      // The refused-by-design requests (401 before sign-in, 403/404 probes) are logged by Chromium as resource errors.
      assert.deepEqual(errors.filter((e) => !/Failed to load resource: the server responded with a status of (401|403|404)/.test(e)), []);
    }
    // The README's screenshots come from these artifacts.
    if (process.env.GATEHOUSE_UPDATE_SCREENSHOTS === '1') {
      for (const n of ['inbox', 'replay-sql']) copyFileSync(join(import.meta.dirname, '..', '..', 'test-artifacts', 'console', `${n}.png`), join(import.meta.dirname, '..', '..', 'docs', 'images', `console-${n}.png`));
    }
  });
});
