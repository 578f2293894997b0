// The reviewer inbox: every review the signed-in principal may see (its own requests and those
// it may approve), live, filterable, with the exact request as policy saw it; approve or deny.
import { h, replace, age, when, asText, field, dl } from './dom.js';
import { api, qs } from './api.js';
import { link, toast, session } from './app.js';

const STATES = ['pending', 'approved', 'denied', 'expired', 'cancelled', 'executed', 'revoked'];
const POLL_MS = 2000;

/** Review list with filters; refreshes itself every two seconds (no reload needed). */
export async function inboxPage(root) {
  const params = new URLSearchParams(location.search);
  const state = h('select', { name: 'state' }, h('option', { value: '' }, 'any state'),
    ...STATES.map((s) => h('option', { value: s, selected: (params.get('state') ?? 'pending') === s }, s)));
  const inputs = {};
  for (const k of ['connection', 'action', 'requester', 'agent', 'text']) {
    inputs[k] = h('input', { type: 'search', name: k, value: params.get(k) ?? '', autocomplete: 'off' });
  }
  const all = h('input', { type: 'checkbox', name: 'all', checked: params.get('scope') === 'all' });
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const table = h('table', { class: 'list' },
    h('caption', { class: 'sr-only' }, 'Reviews'),
    h('thead', null, h('tr', null, ...['Age', 'State', 'Requester', 'Connection', 'Action', 'Request', 'Rule', 'Approvers'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  let items = [];

  const render = () => {
    const f = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim().toLowerCase()]));
    const shown = items.filter((r) =>
      (!f.connection || String(r.connection).toLowerCase().includes(f.connection)) &&
      (!f.action || String(r.action).toLowerCase().includes(f.action)) &&
      (!f.requester || String(r.requester?.id ?? '').toLowerCase().includes(f.requester)) &&
      (!f.agent || String(r.requester?.agent ?? '').toLowerCase().includes(f.agent)) &&
      (!f.text || `${r.summary} ${r.justification ?? ''} ${r.id} ${r.reason ?? ''}`.toLowerCase().includes(f.text)));
    const now = Date.now();
    replace(tbody, ...shown.map((r) => h('tr', null,
      h('td', null, age(now - Date.parse(r.created_at))),
      h('td', null, h('span', { class: `badge ${r.status}` }, r.status)),
      h('td', null, r.requester?.id ?? '', r.requester?.agent ? h('span', { class: 'muted' }, ` via ${r.requester.agent}`) : null),
      h('td', null, r.connection),
      h('td', null, r.kind === 'jit' ? `jit: ${(r.actions ?? []).join(', ')}` : r.action),
      h('td', { class: 'summary' }, link(`/ui/reviews/${r.id}`, oneLine(r.summary, 120))),
      h('td', null, r.rule),
      h('td', null, (r.approvers ?? []).join(', ')))));
    status.textContent = `${shown.length} of ${items.length} reviews · updated ${when(new Date().toISOString())}`;
  };

  const load = async () => {
    const q = qs({ status: state.value, limit: 1000, scope: all.checked ? 'all' : '' });
    try {
      items = (await api('GET', `/api/v1/reviews${q}`)).items ?? [];
      render();
    } catch (e) { status.textContent = `Could not load reviews: ${e.message}`; }
  };
  const syncUrl = () => {
    const q = qs({ state: state.value || 'any', ...Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value])), scope: all.checked ? 'all' : '' });
    history.replaceState(null, '', `/ui/inbox${q}`);
  };
  state.addEventListener('change', () => { syncUrl(); void load(); });
  all.addEventListener('change', () => { syncUrl(); void load(); });
  for (const el of Object.values(inputs)) el.addEventListener('input', () => { syncUrl(); render(); });
  if (params.get('state') === 'any') state.value = '';

  replace(root,
    h('h1', null, 'Reviews'),
    h('p', { class: 'lead' }, 'Requests held by policy until a person decides. Open one to see exactly what was asked, then approve or deny it. Decided and expired reviews stay here: choose “any state” to search the history.'),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
      field('State', state), field('Connection', inputs.connection), field('Action', inputs.action),
      field('Requester', inputs.requester), field('Agent', inputs.agent), field('Search', inputs.text),
      h('div', { class: 'field check' }, all, h('label', { for: (all.id = 'scope-all') }, 'Every review (admins)'))),
    status, table);
  await load();
  const timer = setInterval(() => { void load(); }, POLL_MS);
  return () => clearInterval(timer);
}

function oneLine(s, max) {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** One review: the request as policy saw it, who may decide, the decision form. Live. */
export async function reviewPage(root, id) {
  let review = await api('GET', `/api/v1/reviews/${encodeURIComponent(id)}`);
  const detail = h('div');
  const comment = h('textarea', { name: 'comment', rows: 2, maxlength: 2000 });
  const reason = h('textarea', { name: 'reason', rows: 2, maxlength: 2000 });
  const windowSel = h('select', { name: 'window' });
  const msg = h('p', { role: 'alert', class: 'error' });
  const decide = async (what) => {
    msg.textContent = '';
    try {
      if (what === 'deny' && reason.value.trim() === '') { msg.textContent = 'A reason is required to deny: the requester sees it.'; reason.focus(); return; }
      review = await api('POST', `/api/v1/reviews/${encodeURIComponent(id)}/${what}`,
        what === 'approve' ? { ...(comment.value.trim() ? { comment: comment.value.trim() } : {}), ...(review.kind === 'jit' && windowSel.value ? { duration: `${windowSel.value}s` } : {}) }
          : { reason: reason.value.trim() });
      toast(`Review ${what === 'approve' ? (review.status === 'approved' ? 'approved' : 'approval recorded') : what === 'deny' ? 'denied' : 'revoked'}`, 'ok');
      draw();
    } catch (e) { msg.textContent = e.message; }
  };
  const form = h('form', { class: 'card decide', onsubmit: (e) => e.preventDefault() },
    h('h2', null, 'Decide'),
    field('Comment (optional, with an approval)', comment),
    review.kind === 'jit' ? field('Time window of the grant', windowSel, 'From the approval; at most what the review rule allows.') : null,
    h('button', { type: 'button', class: 'approve', onclick: () => decide('approve') }, 'Approve'),
    field('Reason (required to deny; the requester sees it)', reason),
    h('button', { type: 'button', class: 'deny', onclick: () => decide('deny') }, 'Deny'),
    msg);
  const revokeForm = h('form', { class: 'card decide', onsubmit: (e) => e.preventDefault() },
    h('h2', null, 'Revoke'),
    h('button', { type: 'button', class: 'deny', onclick: () => decide('revoke') }, 'Revoke this grant'));

  const draw = () => {
    const r = review;
    if (r.kind === 'jit' && r.status === 'pending') windowOptions(windowSel, r.grant_seconds ?? 0);
    const now = Date.now();
    const me = session();
    replace(detail,
      h('p', null, h('span', { class: `badge ${r.status}` }, r.status), ' ',
        r.status === 'pending' ? `waiting ${age(now - Date.parse(r.created_at))}, expires in ${age(Date.parse(r.expires_at) - now)}` : `decided ${when(r.decided_at)}`),
      h('section', { class: 'card' }, h('h2', null, 'The request, as policy saw it'),
        h('pre', { class: 'request' }, asText(r.summary)),
        r.justification ? h('p', null, h('strong', null, 'Justification: '), r.justification) : null,
        factsView(r.facts)),
      h('section', { class: 'card' }, h('h2', null, 'Who asked, what held it, who may decide'),
        dl([
          ['Requester', `${r.requester?.kind ?? ''} ${r.requester?.id ?? ''}${r.requester?.agent ? ` via agent ${r.requester.agent}` : ''}`],
          ['Connection', r.connection], ['Action', r.kind === 'jit' ? (r.actions ?? []).join(', ') : r.action],
          ['Kind', r.kind === 'jit' ? `just-in-time grant of ${age((r.grant_seconds ?? 0) * 1000)}` : 'this exact request, once'],
          ['Held by review rule', r.rule],
          ['Approvers', `${(r.approvers ?? []).join(', ')} (${r.min_approvals} approval${r.min_approvals === 1 ? '' : 's'} needed${r.agent_approvers ? '; a person acting through an agent may decide' : ''})`],
          ['Requested', when(r.created_at)], ['Expires', when(r.expires_at)],
          ['Decided by', r.decided_by ? `${r.decided_by.id}` : ''], ['Reason', r.reason ?? ''],
          ['Executed', r.executed_at ? when(r.executed_at) : ''],
        ]),
        (r.approvals ?? []).length ? h('ul', { class: 'stamps' }, ...r.approvals.map((a) => h('li', null, `approved by ${a.by?.id ?? '?'} at ${when(a.at)}${a.comment ? ` — ${a.comment}` : ''}`))) : null),
      r.status === 'pending' && me && r.requester?.id !== me.user ? form : null,
      r.status === 'approved' && r.kind === 'jit' ? revokeForm : null);
  };
  replace(root, link('/ui/inbox', '← All reviews'), h('h1', null, `Review ${id}`), detail);
  draw();
  const timer = setInterval(async () => {
    if (document.activeElement === comment || document.activeElement === reason || document.activeElement === windowSel) return;
    try { review = await api('GET', `/api/v1/reviews/${encodeURIComponent(id)}`); draw(); } catch { /* keep the last view */ }
  }, POLL_MS);
  return () => clearInterval(timer);
}

/** Common grant windows (seconds) shorter than the review's grant; '' (the default) is the whole grant. */
const WINDOWS = [300, 900, 1800, 3600, 7200, 14400, 28800, 86400];
function windowOptions(sel, grantSeconds) {
  const keep = sel.value;
  const values = ['', ...WINDOWS.filter((s) => s < grantSeconds).map(String)];
  if (sel.options.length === values.length && [...sel.options].every((o, i) => o.value === values[i])) return;
  replace(sel, h('option', { value: '' }, `${age(grantSeconds * 1000)} (the rule's window)`),
    ...values.slice(1).map((v) => h('option', { value: v }, age(Number(v) * 1000))));
  sel.value = values.includes(keep) ? keep : '';
}

/** The parsed facts policy evaluated (SQL facts, prompt findings, tool call…), as text. */
function factsView(facts) {
  if (!facts || typeof facts !== 'object' || Object.keys(facts).length === 0) return null;
  const parts = [];
  for (const [k, v] of Object.entries(facts)) {
    parts.push(h('h3', null, k === 'sql' ? 'SQL facts' : k === 'prompt' ? 'Prompt (masked) and findings' : k === 'mcp' ? 'MCP tool call' : k === 'shell' ? 'Shell command facts' : k));
    parts.push(h('pre', { class: 'facts' }, asText(v)));
  }
  return h('div', { class: 'facts' }, ...parts);
}

