import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type ssh2 from 'ssh2';
import { startTestGateway, TEST_POLICIES, type TestGateway } from '../harness/gateway.ts';
import { startSshd, type TestSshd } from '../harness/sshd.ts';
import { sshConnect } from '../harness/ssh-client.ts';
import { launchBrowser, seriousA11y, shot, traps, watch, type TestBrowser } from './harness.ts';

const POLICIES = `${TEST_POLICIES}
${readFileSync(fileURLToPath(new URL('../../policies/shell.cedar', import.meta.url)), 'utf8')}
@id("ops-interactive")
permit (principal in Group::"ops", action == Action::"shell.interactive", resource == Connection::"web01");
`;

/** Printed by the remote shell: must reach the replay as text, never as markup. */
const PAYLOAD = '<img src=x onerror="window.__xss=7">';
/**
 * Escape sequences a terminal acts on beyond drawing: a window title (OSC 0), a clipboard write
 * (OSC 52), a hyperlink (OSC 8) around "click-me". Sent base64-encoded, so the shell's echo of the
 * command line does not carry their text: none of it may reach the page, except "click-me".
 */
const OSC = '\x1b]0;pwned-title\x07\x1b]52;c;cHduZWQtY2xpcA==\x07\x1b]8;;https://evil.example/x\x1b\\click-me\x1b]8;;\x1b\\ osc-done\n';

/**
 * An interactive SSH shell through the gateway to a real OpenSSH server (100×30 terminal, output
 * with an XSS payload), then its replay in the console in Chromium: the terminal at its real size,
 * the output as text, the chain badge, no script run, no CSP violation, no serious axe violation.
 */
/** Polls `cond` (every 50 ms, at most 10 s). */
async function waitUntil(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('web console: an SSH terminal session replayed in Chromium (real OpenSSH)', () => {
  let sshd: TestSshd;
  let t: TestGateway;
  let browser: TestBrowser;
  let olga: string;
  let oscar: string;

  before(async () => {
    sshd = await startSshd();
    writeFileSync(join(sshd.dir, 'gw_client_key'), sshd.clientKey, { mode: 0o600 });
    t = await startTestGateway({
      policies: POLICIES,
      yaml: ['connections:',
        `  - { name: web01, type: ssh, url: "ssh://${sshd.user}@127.0.0.1:${sshd.port}", host_key: "${sshd.hostKey}", credentials: { private_key: "\${file:${join(sshd.dir, 'gw_client_key')}}" } }`].join('\n'),
    });
    olga = String((await t.api('POST', '/api/v1/api-keys', { user: 'olga', groups: ['ops'] })).json.key);
    oscar = String((await t.api('POST', '/api/v1/api-keys', { user: 'oscar', groups: ['ops'] })).json.key);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await sshd?.stop();
  });

  test('the shell session replays as a 100×30 terminal with its output as text', async () => {
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', olga);
    try {
      const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) => {
        c.shell({ term: 'xterm', cols: 100, rows: 30 }, (err, s) => { if (err) reject(err); else resolve(s); });
      });
      let out = '';
      stream.on('data', (d: Buffer) => { out += d.toString(); });
      const closed = new Promise<void>((r) => { stream.on('close', () => { r(); }); });
      stream.write(`echo "term-$((6*7))"; printf '%s\\n' '${PAYLOAD}'; echo ${Buffer.from(OSC).toString('base64')} | base64 -d\n`);
      const until = Date.now() + 15_000;
      while (!/term-42[\s\S]*window\.__xss=7">\r?\n[\s\S]*osc-done/.test(out)) {
        if (Date.now() > until) throw new Error(`no output: ${JSON.stringify(out.slice(-300))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      stream.write('exit\n');
      await closed;
    } finally { c.end(); }

    let id = '';
    const until = Date.now() + 20_000;
    while (id === '') {
      const items = (await t.api('GET', '/api/v1/sessions?connection=web01&user=olga')).json.items as { id: string; protocol: string; closedAt?: string }[];
      id = items.find((s) => s.protocol === 'ssh' && s.closedAt !== undefined)?.id ?? '';
      if (id === '' && Date.now() > until) throw new Error('no closed ssh session recorded');
      if (id === '') await new Promise((r) => setTimeout(r, 200));
    }

    const page = await (await browser.context()).newPage();
    const w = watch(page);
    await page.goto(`${t.url}/`);
    await page.getByLabel('Gatehouse API key').fill(t.adminKey);
    await page.getByRole('button', { name: 'Sign in with API key' }).click();
    await page.getByRole('heading', { name: 'Reviews' }).waitFor();
    await page.goto(`${t.url}/ui/sessions/${encodeURIComponent(id)}`);
    const title = await page.title();
    await page.locator('[data-testid=chain]').waitFor();
    assert.match(await page.locator('[data-testid=chain]').innerText(), /chain verified up to event \d+/);
    const term = page.locator('[data-testid=terminal]');
    await term.waitFor();
    assert.equal(await term.getAttribute('aria-label'), 'terminal 100×30', 'played at the recorded size');
    const text = await term.innerText();
    assert.match(text, /term-42/);
    assert.ok(text.includes(PAYLOAD), `the payload is shown as text: ${text.slice(-500)}`);
    // The standard player (asciinema-player) at the recorded size: 100 columns, 30 rows.
    const size = await page.evaluate<string[]>(`(() => { const cs = getComputedStyle(document.querySelector('[data-testid=terminal] .ap-term'));
      return [cs.getPropertyValue('--term-cols').trim(), cs.getPropertyValue('--term-rows').trim()]; })()`);
    assert.deepEqual(size, ['100', '30'], 'the player\'s terminal has the recorded size');
    assert.equal(await term.locator('.ap-line').count(), 30, 'one line per recorded row');
    // Escape sequences stay inert: no title, no link, no clipboard text; the linked text stays.
    assert.match(text, /click-me osc-done/);
    for (const s of ['pwned', 'cHduZWQ', 'evil.example']) assert.ok(!text.includes(s), `${s} is not shown`);
    assert.equal(await page.title(), title, 'the page title is unchanged');
    assert.equal(await page.locator('main a[href*="evil"], .player a').count(), 0, 'no hyperlink from the recording');
    // The player: back to the start (empty screen), then play it through.
    await page.getByLabel('Position (frames)').fill('0');
    await waitUntil(async () => (await term.innerText()).trim() === '', 'the screen at frame 0');
    assert.equal((await term.innerText()).trim(), '');
    // Seek by event from the timeline: the shell's last output event shows the payload again.
    const lastOutput = await page.evaluate<string | undefined>(`[...document.querySelectorAll('ol.timeline li.event')]
      .filter((el) => /terminal/i.test(el.querySelector('.event-head strong')?.textContent ?? '')).map((el) => el.id.slice(3)).pop()`);
    assert.ok(lastOutput, 'a terminal event in the timeline');
    await page.getByLabel('Jump to event').selectOption(lastOutput);
    await waitUntil(async () => (await term.innerText()).includes('osc-done'), 'the screen after seeking to the last terminal event');
    await page.getByLabel('Position (frames)').fill('0');
    await waitUntil(async () => (await term.innerText()).trim() === '', 'the screen at frame 0 again');
    await page.getByRole('button', { name: 'Play' }).click();
    await page.locator('[data-testid=terminal]', { hasText: 'term-42' }).waitFor({ timeout: 20_000 });
    await shot(page, 'replay-ssh');
    assert.deepEqual(await seriousA11y(page), []);
    const tr = await traps(page);
    assert.equal(tr.xss, 0, 'no payload ran');
    assert.deepEqual(tr.csp, [], 'no CSP violation (the player\'s styles are its stylesheet and CSSOM)');
    assert.deepEqual(w.errors.filter((e) => !/status of (401|404)/.test(e)), []);
  });

  test('a terminal too big for the player (asked 5000×5000, applied 1000×500; or an old 5000×5000 recording) is shown as text with a note, promptly', async () => {
    const c = await sshConnect(t.gw.listeners.ssh!.port, 'web01', oscar);
    try {
      const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) => {
        c.shell({ term: 'xterm', cols: 5000, rows: 5000 }, (err, s) => { if (err) reject(err); else resolve(s); });
      });
      let out = '';
      stream.on('data', (d: Buffer) => { out += d.toString(); });
      const closed = new Promise<void>((r) => { stream.on('close', () => { r(); }); });
      stream.write('stty size; echo "huge-$((6*7))"\n');
      const until = Date.now() + 15_000;
      while (!/500 1000\r?\n[\s\S]*huge-42/.test(out)) {
        if (Date.now() > until) throw new Error(`no output: ${JSON.stringify(out.slice(-300))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      stream.setWindow(5000, 5000, 0, 0);
      stream.write('exit\n');
      await closed;
    } finally { c.end(); }
    let id = '';
    const until = Date.now() + 20_000;
    while (id === '') {
      const items = (await t.api('GET', '/api/v1/sessions?connection=web01&user=oscar')).json.items as { id: string; protocol: string; closedAt?: string }[];
      id = items.find((s) => s.protocol === 'ssh' && s.closedAt !== undefined)?.id ?? '';
      if (id === '' && Date.now() > until) throw new Error('no closed ssh session recorded');
      if (id === '') await new Promise((r) => setTimeout(r, 200));
    }
    const page = await (await browser.context()).newPage();
    const w = watch(page);
    await page.goto(`${t.url}/`);
    await page.getByLabel('Gatehouse API key').fill(t.adminKey);
    await page.getByRole('button', { name: 'Sign in with API key' }).click();
    await page.getByRole('heading', { name: 'Reviews' }).waitFor();
    const term = page.locator('[data-testid=terminal]');
    const note = page.locator('[data-testid=terminal-note]');
    // As recorded by the gateway: 1000×500, above the player's 500×200.
    await page.goto(`${t.url}/ui/sessions/${encodeURIComponent(id)}`);
    await term.waitFor({ timeout: 10_000 });
    assert.match(await note.innerText(), /Recorded at 1000×500, larger than the player draws \(500×200\)/);
    assert.match(await term.innerText(), /huge-42/);
    assert.equal(await page.locator('.ap-term').count(), 0, 'no player for a terminal this big');
    // An older recording with a 5000×5000 terminal and resize (before the gateway bounded it): the
    // events API answer is rewritten in the browser; the page must not hand it to the player.
    await page.route('**/api/v1/sessions/*/events*', async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { items: { type: string; data?: Record<string, unknown> }[] };
      for (const e of body.items) {
        if (e.type === 'request' && e.data?.cols !== undefined) Object.assign(e.data, { cols: 5000, rows: 5000 });
        if (e.type === 'terminal' && typeof e.data?.r === 'string') e.data.r = '5000x5000';
      }
      await route.fulfill({ response: res, json: body });
    });
    const started = Date.now();
    await page.goto(`${t.url}/ui/sessions/${encodeURIComponent(id)}`);
    await term.waitFor({ timeout: 10_000 });
    assert.match(await note.innerText(), /Recorded at 5000×5000, larger than the player draws \(500×200\)/);
    assert.match(await term.innerText(), /huge-42/);
    assert.equal(await page.locator('.ap-term').count(), 0, 'no player for a terminal this big');
    const ms = Date.now() - started;
    assert.ok(ms < 10_000, `the page answered in ${ms} ms`);
    await shot(page, 'replay-ssh-too-big');
    assert.deepEqual(await seriousA11y(page), []);
    assert.deepEqual((await traps(page)).csp, []);
    assert.deepEqual(w.errors.filter((e) => !/status of (401|404)/.test(e)), []);
  });
});
