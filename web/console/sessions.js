// Recorded sessions: list and search, and one timeline per session (database statements and
// result rows, LLM requests and streamed answers, MCP tool calls, shell commands and terminal
// output) with decisions and reviews marked, seek by event, the server's chain verdict, exports.
import { h, replace, when, asText, field, dl } from './dom.js';
import { api, qs } from './api.js';
import { link } from './app.js';
import { stringFilter } from './term-filter.js';

/** The session list with its filters (principal, agent, connection, time, decision). */
export async function sessionsPage(root) {
  const params = new URLSearchParams(location.search);
  const inputs = {};
  for (const k of ['user', 'agent', 'connection', 'since']) inputs[k] = h('input', { type: 'search', name: k, value: params.get(k) ?? '', autocomplete: 'off' });
  const decision = h('select', { name: 'decision' }, h('option', { value: '' }, 'any'),
    ...['allow', 'deny', 'review'].map((d) => h('option', { value: d, selected: params.get('decision') === d }, d)));
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const load = async () => {
    const filter = { ...Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()])), decision: decision.value };
    history.replaceState(null, '', `/ui/sessions${qs(filter)}`);
    try {
      const { items } = await api('GET', `/api/v1/sessions${qs({ ...filter, limit: 200 })}`);
      replace(tbody, ...items.map((s) => h('tr', null,
        h('td', null, link(`/ui/sessions/${encodeURIComponent(s.id)}`, when(s.openedAt))),
        h('td', null, s.protocol), h('td', null, s.user ?? '—'), h('td', null, s.agent ?? '—'), h('td', null, s.connection ?? '—'),
        h('td', null, String(s.events)), h('td', null, ...(s.decisions ?? []).map((d) => h('span', { class: `badge ${d}` }, d))),
        h('td', null, s.closedAt ? 'closed' : 'open'))));
      status.textContent = `${items.length} sessions`;
    } catch (e) { status.textContent = `Could not load sessions: ${e.message}`; }
  };
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); void load(); } },
    field('User', inputs.user), field('Agent', inputs.agent), field('Connection', inputs.connection),
    field('Since', inputs.since, 'e.g. 24h or 2026-12-01'), field('Decision', decision),
    h('button', { type: 'submit' }, 'Search'));
  replace(root, h('h1', null, 'Sessions'),
    h('p', { class: 'lead' }, 'Everything that went through the gateway, one session per connection or conversation. Open one to replay it.'),
    form, status,
    h('table', { class: 'list' }, h('caption', { class: 'sr-only' }, 'Sessions'),
      h('thead', null, h('tr', null, ...['Opened', 'Protocol', 'User', 'Agent', 'Connection', 'Events', 'Decisions', 'State'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody));
  await load();
}

/** What kind of event this is, for its label and marker. */
function kindOf(e) {
  const d = e.data ?? {};
  if (e.type === 'decision') return `decision-${d.effect ?? d.decision ?? 'unknown'}`;
  if (e.type === 'review') return 'review';
  // A PostgreSQL statement exchange in one event: request, decision and result.
  if (e.type === 'statement') return 'sql';
  // An HTTP/LLM exchange in one event: request, decision, review and response (or error).
  if (e.type === 'exchange') return typeof d.prompt === 'string' || d.facts?.llm !== undefined ? 'llm-exchange' : 'http-exchange';
  if (e.type === 'request') {
    if (typeof d.statement === 'string') return 'sql';
    if (typeof d.prompt === 'string' || d.messages !== undefined || d.model !== undefined) return 'llm-request';
    if (typeof d.tool === 'string') return 'mcp-call';
    if (typeof d.command === 'string') return 'shell-command';
    if (typeof d.method === 'string') return 'http-request';
    return 'request';
  }
  if (e.type === 'response') {
    if (Array.isArray(d.columns) || typeof d.rows === 'number' || typeof d.tag === 'string') return 'sql-result';
    if (typeof d.completion === 'string' || d.stream !== undefined || (typeof d.status === 'number' && typeof d.text === 'string')) return 'llm-response';
    if (d.tool !== undefined || d.result !== undefined) return 'mcp-result';
    if (typeof d.output === 'string' || d.cast !== undefined) return 'shell-output';
    return 'response';
  }
  return e.type;
}

const LABELS = {
  sql: 'SQL statement', 'sql-result': 'Result', 'llm-request': 'LLM request', 'llm-response': 'LLM response',
  'mcp-call': 'MCP tool call', 'mcp-result': 'MCP result', 'shell-command': 'Shell command', 'shell-output': 'Terminal output',
  'http-request': 'HTTP request', 'llm-exchange': 'LLM call', 'http-exchange': 'HTTP request', response: 'Response', 'decision-allow': 'Allowed', 'decision-deny': 'Denied', 'decision-review': 'Held for review',
  review: 'Review', 'session.open': 'Session opened', 'session.close': 'Session closed', error: 'Error', truncated: 'Not recorded (truncated)',
};

/** A result grid when the event carries columns and rows; else null. */
function grid(d) {
  if (!Array.isArray(d.columns) || !Array.isArray(d.sample ?? d.data ?? d.rowsSample)) return null;
  const rows = d.sample ?? d.data ?? d.rowsSample;
  return h('table', { class: 'grid' }, h('caption', { class: 'sr-only' }, 'Result rows (masked)'),
    h('thead', null, h('tr', null, ...d.columns.map((c) => h('th', { scope: 'col' }, typeof c === 'string' ? c : String(c?.name ?? ''))))),
    h('tbody', null, ...rows.slice(0, 200).map((row) => h('tr', null, ...(Array.isArray(row) ? row : Object.values(row ?? {})).map((v) => h('td', null, v === null ? 'NULL' : asText(v)))))));
}

/** The body of one event, as text (and a grid or a terminal when it has one). */
function body(e) {
  const d = e.data ?? {};
  const k = kindOf(e);
  const main = d.statement ?? d.prompt ?? d.completion ?? d.command ?? d.output ?? d.text ?? d.content ?? d.message ?? undefined;
  const parts = [];
  if (e.type === 'exchange') parts.push(h('p', null, h('code', null, `${d.method ?? ''} ${d.endpoint ?? ''}`)));
  if (e.type === 'decision' || ((e.type === 'statement' || e.type === 'exchange') && typeof d.effect === 'string')) parts.push(h('p', null, `${d.action ? `${d.action}: ` : ''}${d.effect ?? d.decision ?? ''}${Array.isArray(d.reasons) && d.reasons.length ? ` — policies: ${d.reasons.join(', ')}` : ''}`));
  if (e.type === 'statement' && 'error' in d) parts.push(h('p', null, `error ${d.error ?? ''}`));
  if (e.type === 'exchange' && typeof d.code === 'string') parts.push(h('p', null, `error ${d.code}`));
  if (e.type === 'exchange' && typeof d.review_id === 'string') parts.push(h('p', null, link(`/ui/reviews/${encodeURIComponent(d.review_id)}`, `review ${d.review_id}`)));
  if (typeof d.tag === 'string') parts.push(h('p', null, h('code', null, d.tag)));
  if (e.type === 'review' && d.review_id) parts.push(h('p', null, link(`/ui/reviews/${d.review_id}`, `review ${d.review_id}`), d.outcome ? ` (${d.outcome})` : ''));
  const messages = (k === 'llm-request' || k === 'llm-exchange') && typeof d.prompt === 'string' ? chatMessages(d.prompt) : undefined;
  if (messages) {
    parts.push(h('ul', { class: 'messages' }, ...messages.map(([role, text]) => h('li', null, h('strong', null, `${role}: `), h('pre', { class: 'text' }, text)))));
  } else if (typeof main === 'string') parts.push(h('pre', { class: `text ${k}` }, main));
  // An exchange's response text, after its request (shown above unless it was the only text).
  if (e.type === 'exchange' && typeof d.text === 'string' && d.text !== '' && (messages || main !== d.text)) {
    parts.push(h('p', null, `response ${d.status ?? ''}${d.truncated === true ? ' (text truncated)' : ''}`), h('pre', { class: 'text llm-response' }, d.text));
  }
  const g = grid(d);
  if (g) parts.push(g);
  if (d.cast !== undefined) parts.push(terminal(d.cast));
  const rest = Object.fromEntries(Object.entries(d).filter(([key]) => !['statement', 'prompt', 'completion', 'command', 'output', 'text', 'content', 'message', 'cast', 'sample'].includes(key)));
  if (Object.keys(rest).length) parts.push(h('details', null, h('summary', null, 'Details'), h('pre', { class: 'facts' }, asText(rest))));
  return parts;
}

/** The [role, text] pairs of a recorded (masked) chat request body, or undefined. */
function chatMessages(prompt) {
  let body;
  try { body = JSON.parse(prompt); } catch { return undefined; }
  const list = Array.isArray(body?.messages) ? body.messages : Array.isArray(body?.input) ? body.input : undefined;
  if (!list) return undefined;
  const out = [];
  if (typeof body.system === 'string') out.push(['system', body.system]);
  for (const m of list.slice(0, 200)) {
    const c = m?.content;
    const text = typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => (typeof p?.text === 'string' ? p.text : asText(p))).join('\n') : asText(c);
    out.push([String(m?.role ?? 'message'), text]);
  }
  return out;
}

/** An asciicast v2 recording ({ width, height, events: [[t, 'o', text]…] }) at its real size. */
function terminal(cast) {
  const width = Number(cast?.width ?? cast?.header?.width) || 80;
  const height = Number(cast?.height ?? cast?.header?.height) || 24;
  const out = (Array.isArray(cast?.events) ? cast.events : []).filter((x) => Array.isArray(x) && x[1] === 'o').map((x) => String(x[2])).join('');
  // eslint-disable-next-line no-control-regex
  const pre = h('pre', { class: 'term', 'aria-label': `terminal ${width}×${height}` }, out.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, ''));
  pre.style.width = `${width}ch`;
  pre.style.height = `${height * 1.2}em`;
  return pre;
}

/**
 * The largest terminal the page lets the player draw: its emulator and DOM grow with cols×rows, and
 * a 5000×5000 recording hangs the tab. A bigger recording (the gateway applies at most 1000×500
 * since; older recordings were unbounded) is shown as text instead, with a note.
 */
const PLAYER_MAX = { cols: 500, rows: 200 };

/** Terminal output as plain text: OSC/DCS/… strings, other escape and control sequences dropped. */
function plainTerminal(text) {
  // eslint-disable-next-line no-control-regex
  return stringFilter()(text).replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\u001b[ -~]/g, '').replace(/\r\n/g, '\n').replace(/\r/g, '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

/** The terminal size an interactive session started with (the shell request, else its first resize). */
function termSize(events) {
  for (const e of events.slice(0, 64)) {
    const d = e.data ?? {};
    if (e.type === 'request' && Number(d.cols) > 0 && Number(d.rows) > 0) return { cols: Number(d.cols), rows: Number(d.rows) };
    const m = e.type === 'terminal' && typeof d.r === 'string' ? /^(\d{1,5})x(\d{1,5})$/.exec(d.r) : null;
    if (m) return { cols: Number(m[1]), rows: Number(m[2]) };
  }
  return { cols: 80, rows: 24 };
}

/** asciinema-player (served by the gateway from node_modules, see src/console/static.ts), loaded once. */
let playerLib;
function loadPlayer() {
  playerLib ??= new Promise((resolve, reject) => {
    document.head.append(h('link', { rel: 'stylesheet', href: '/ui/assets/asciinema-player.css' }));
    document.head.append(h('script', {
      src: '/ui/assets/asciinema-player.js',
      onload: () => (window.AsciinemaPlayer ? resolve(window.AsciinemaPlayer) : reject(new Error('the terminal player did not load'))),
      onerror: () => { playerLib = undefined; reject(new Error('the terminal player did not load')); },
    }));
  });
  return playerLib;
}

/**
 * The session's terminal events as an asciicast v2 recording for the player: output ('o', its
 * OSC/DCS/APC strings dropped) and resizes ('r'), at the recorded size; pauses capped at 1 s and
 * every frame at least 1 ms after the previous one, so frame n has its own time (`times`).
 */
function castOf(frames, openedAt, cols, rows) {
  const filter = stringFilter();
  const times = [];
  let t = 0;
  let prev = openedAt;
  for (const f of frames) {
    const at = Date.parse(f.at);
    t = Math.max(t + 0.001, t + Math.min(1, Math.max(0, (at - prev) / 1000)));
    prev = Number.isFinite(at) ? at : prev;
    times.push(Math.round(t * 1e6) / 1e6);
  }
  const events = frames.map((f, i) => (typeof f.data.o === 'string' ? [times[i], 'o', filter(f.data.o)] : [times[i], 'r', f.data.r]));
  return { cast: [{ version: 2, width: cols, height: rows }, ...events], times };
}

/**
 * The session's terminal, played by a standard player (asciinema-player) at the recorded size and
 * with its resizes: Play/Pause, a position slider (frames) and seek by event from the timeline.
 * The player draws text with DOM text nodes (never markup); OSC strings are dropped before it.
 * Returns null without terminal events, else { section, seekTo(iso) }.
 */
function terminalPlayer(events, openedAt) {
  const frames = events.filter((e) => e.type === 'terminal' && (typeof e.data?.o === 'string' || (typeof e.data?.r === 'string' && /^\d{1,5}x\d{1,5}$/.test(e.data.r))));
  if (!frames.some((f) => typeof f.data.o === 'string')) return null;
  const { cols, rows } = termSize(events);
  const sizes = [[cols, rows], ...frames.filter((f) => typeof f.data.r === 'string').map((f) => f.data.r.split('x').map(Number))];
  const big = sizes.find(([c, r]) => c > PLAYER_MAX.cols || r > PLAYER_MAX.rows);
  if (big) {
    // Too big to draw: the output as text, never handed to the player.
    const screen = h('pre', { class: 'term text-view', 'aria-label': 'terminal output as text', 'data-testid': 'terminal' },
      plainTerminal(frames.filter((f) => typeof f.data.o === 'string').map((f) => f.data.o).join('')));
    const section = h('section', { class: 'card', 'aria-label': 'Terminal' }, h('h2', null, `Terminal (${cols}×${rows})`),
      h('p', { class: 'muted', 'data-testid': 'terminal-note' }, `Recorded at ${big[0]}×${big[1]}, larger than the player draws (${PLAYER_MAX.cols}×${PLAYER_MAX.rows}): the output is shown as text.`), screen);
    return { section, seekTo: () => {} };
  }
  const { cast, times } = castOf(frames, openedAt, cols, rows);
  const screen = h('div', { class: 'player', role: 'img', 'aria-label': `terminal ${cols}×${rows}` });
  const pos = h('input', { type: 'range', min: '0', max: String(frames.length), value: String(frames.length), name: 'terminal-position' });
  const status = h('span', { class: 'muted', 'aria-live': 'polite' }, 'Loading the player…');
  const play = h('button', { type: 'button', disabled: true }, 'Play');
  let player;
  let ticker;
  const frameAt = (sec) => { let n = 0; while (n < times.length && times[n] <= sec + 1e-6) n++; return n; };
  const timeOf = (n) => (n <= 0 ? 0 : times[Math.min(n, times.length) - 1] + 0.0002);
  const show = async (n) => { pos.value = String(n); await player?.seek(timeOf(n)); };
  const stopTicker = () => { clearInterval(ticker); ticker = undefined; play.textContent = 'Play'; };
  play.addEventListener('click', async () => {
    if (!player) return;
    if (ticker) { await player.pause(); stopTicker(); return; }
    if (Number(pos.value) >= frames.length) await show(0);
    play.textContent = 'Pause';
    ticker = setInterval(() => { pos.value = String(frameAt(player.getCurrentTime())); }, 200);
    await player.play();
  });
  pos.addEventListener('input', () => { if (ticker) { void player?.pause(); stopTicker(); } void show(Number(pos.value)); });
  loadPlayer().then(async (AP) => {
    player = AP.create({ data: cast, minFrameTime: 0.0005 }, screen,
      { cols, rows, fit: false, controls: false, preload: true, terminalFontSize: '14px', logger: { log() {}, debug() {}, info() {}, warn() {}, error() {} } });
    player.addEventListener('ended', () => { pos.value = String(frames.length); stopTicker(); });
    player.addEventListener('pause', () => { if (ticker) stopTicker(); });
    await show(frames.length);
    // Ready (the tests wait for this): the screen shows the end of the session.
    for (let i = 0; i < 100 && !screen.querySelector('.ap-term-text')?.textContent?.trim(); i++) await new Promise((r) => setTimeout(r, 20));
    screen.setAttribute('data-testid', 'terminal');
    status.textContent = `${frames.length} frames`;
    play.disabled = false;
  }).catch((e) => { status.textContent = `The terminal player could not start: ${e.message}`; });
  const section = h('section', { class: 'card', 'aria-label': 'Terminal' }, h('h2', null, `Terminal (${cols}×${rows})`),
    h('div', { class: 'toolbar' }, play, field('Position (frames)', pos), status), screen);
  /** Shows the screen as it was at `iso` (the last frame at or before it). */
  const seekTo = (iso) => {
    const at = Date.parse(iso);
    let n = 0;
    while (n < frames.length && Date.parse(frames[n].at) <= at) n++;
    if (ticker) { void player?.pause(); stopTicker(); }
    void show(n);
  };
  return { section, seekTo };
}

/** One session's timeline. */
export async function replayPage(root, id) {
  const enc = encodeURIComponent(id);
  const [info, verify] = await Promise.all([api('GET', `/api/v1/sessions/${enc}`), api('GET', `/api/v1/sessions/${enc}/verify`).catch((e) => ({ error: e.message }))]);
  const events = [];
  let after = 0;
  for (let page = 0; page < 50; page++) {
    const { items, next } = await api('GET', `/api/v1/sessions/${enc}/events${qs({ after, limit: 1000 })}`);
    events.push(...items);
    if (!next || items.length < 1000) break;
    after = next;
  }
  const t0 = Date.parse(info.openedAt);
  const badge = verify.error ? h('span', { class: 'badge deny' }, `chain not verified: ${verify.error}`)
    : verify.ok ? h('span', { class: 'badge ok', 'data-testid': 'chain' }, `chain verified up to event ${verify.events}`)
      : h('span', { class: 'badge deny', 'data-testid': 'chain' }, `chain broken at event ${verify.seq} (${verify.reason}); verified up to event ${Math.max(0, verify.seq - 1)}`);
  const list = h('ol', { class: 'timeline', 'aria-label': 'Events' });
  const items = events.map((e) => {
    const k = kindOf(e);
    const li = h('li', { id: `ev-${e.seq}`, class: `event ${k}`, tabindex: '-1' },
      h('div', { class: 'event-head' },
        h('span', { class: 'seq' }, `#${e.seq}`), ' ', h('span', { class: 'offset' }, `+${((Date.parse(e.at) - t0) / 1000).toFixed(3)} s`), ' ',
        h('strong', null, LABELS[k] ?? e.type),
        // HTTP/MCP: concurrent exchanges of one session interleave; their number tells them apart.
        Number.isInteger(e.data?.exchange) ? h('span', { class: 'muted', 'data-testid': 'exchange' }, ` exchange ${e.data.exchange}`) : null,
        e.agent ? h('span', { class: 'muted' }, ` ${e.user ?? ''} via ${e.agent}`) : null),
      ...body(e));
    list.append(li);
    return { e, li, k };
  });
  const term = terminalPlayer(events, t0);
  const seek = h('select', { name: 'seek' }, ...items.map(({ e, k }) => h('option', { value: String(e.seq) }, `#${e.seq} ${LABELS[k] ?? e.type}`)));
  // Seeking to an event shows it in the timeline and the terminal as it was at that moment.
  const goTo = ({ e, li }) => { term?.seekTo(e.at); li.scrollIntoView({ block: 'start' }); li.focus(); };
  seek.addEventListener('change', () => {
    const it = items.find((x) => String(x.e.seq) === seek.value);
    if (it) goTo(it);
  });
  const markers = h('div', { class: 'markers', 'aria-label': 'Decisions and reviews' },
    ...items.map((it) => ({ ...it, m: (it.e.type === 'statement' || it.e.type === 'exchange') && typeof it.e.data?.effect === 'string' ? `decision-${it.e.data.effect}` : it.k }))
      .filter(({ m }) => m.startsWith('decision') || m === 'review').map((it) =>
        h('button', { type: 'button', class: `marker ${it.m}`, onclick: () => goTo(it) }, `#${it.e.seq} ${LABELS[it.m] ?? it.m}`)));
  replace(root, link('/ui/sessions', '← All sessions'),
    h('h1', null, `Session ${id}`),
    h('p', null, badge),
    dl([['Protocol', info.protocol], ['User', info.user ?? ''], ['Agent', info.agent ?? ''], ['Connection', info.connection ?? ''],
      ['Opened', when(info.openedAt)], ['Closed', info.closedAt ? when(info.closedAt) : 'still open'], ['Events', String(info.events)]]),
    h('div', { class: 'toolbar' }, field('Jump to event', seek),
      h('span', null, 'Export: ', ...['json', 'csv', 'asciicast'].map((f) => h('a', { class: 'button', href: `/api/v1/sessions/${enc}/export?format=${f}`, download: '' }, f)))),
    term?.section, markers, list);
}
