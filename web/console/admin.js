// Audit log with the chain's state; API keys and connections for admins; the policy playground
// (the same endpoint as `gatehouse policy explain`).
import { h, replace, when, asText, field, dl } from './dom.js';
import { api, qs } from './api.js';
import { toast } from './app.js';

/** The audit log, newest first, with filters and the chain's verification. */
export async function auditPage(root) {
  const kind = h('input', { type: 'search', name: 'kind', autocomplete: 'off' });
  const user = h('input', { type: 'search', name: 'user', autocomplete: 'off' });
  const chain = h('p', { 'aria-live': 'polite' }, 'Verifying the chain…');
  const tbody = h('tbody');
  const load = async () => {
    const { items } = await api('GET', `/api/v1/audit${qs({ kind: kind.value.trim(), user: user.value.trim(), limit: 300 })}`);
    replace(tbody, ...items.map((a) => h('tr', null,
      h('td', null, String(a.seq ?? '')),
      h('td', null, a.count > 1 && a.lastAt ? `${when(a.at)} – ${when(a.lastAt)}` : when(a.at ?? a.time)),
      h('td', null, String(a.count ?? 1)), h('td', null, a.kind ?? ''), h('td', null, a.user ?? ''),
      h('td', null, a.action ?? ''), h('td', null, a.resource ?? ''), h('td', null, a.outcome ?? ''),
      h('td', null, a.detail && Object.keys(a.detail).length ? h('details', null, h('summary', null, 'detail'), h('pre', { class: 'facts' }, asText(a.detail))) : ''))));
  };
  replace(root, h('h1', null, 'Audit log'),
    h('p', { class: 'lead' }, 'Every decision, sign-in and change, hash-chained: the chain state below is computed by the gateway. A run of identical allowed decisions is one record: Count says how many, Time spans the first to the last.'),
    chain,
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); void load(); } },
      field('Kind', kind, 'e.g. review.approved'), field('User', user), h('button', { type: 'submit' }, 'Filter')),
    h('table', { class: 'list' }, h('caption', { class: 'sr-only' }, 'Audit events'),
      h('thead', null, h('tr', null, ...['Seq', 'Time', 'Count', 'Kind', 'User', 'Action', 'Resource', 'Outcome', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))), tbody));
  await load();
  try {
    const v = await api('GET', '/api/v1/audit/verify');
    replace(chain, h('span', { class: `badge ${v.ok ? 'ok' : 'deny'}` }, v.ok ? `chain verified (${v.count} records)` : `chain broken: ${asText(v)}`));
  } catch (e) { replace(chain, h('span', { class: 'badge deny' }, `chain not verified: ${e.message}`)); }
}

/** API keys (create, revoke) and connections (list). */
export async function adminPage(root) {
  const keysBody = h('tbody');
  const connBody = h('tbody');
  const created = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    const [{ items: keys }, { items: conns }] = await Promise.all([api('GET', '/api/v1/api-keys'), api('GET', '/api/v1/connections')]);
    replace(keysBody, ...keys.map((k) => h('tr', null,
      h('td', null, k.id), h('td', null, k.user ?? '—'), h('td', null, k.agent ?? '—'), h('td', null, (k.groups ?? []).join(', ')),
      h('td', null, k.description ?? ''), h('td', null, when(k.createdAt)), h('td', null, k.expiresAt ? when(k.expiresAt) : 'never'),
      h('td', null, k.revokedAt ? `revoked ${when(k.revokedAt)}` : h('button', { type: 'button', class: 'deny', onclick: async () => {
        try { await api('DELETE', `/api/v1/api-keys/${encodeURIComponent(k.id)}`); toast(`Key ${k.id} revoked`, 'ok'); await load(); } catch (e) { toast(e.message, 'error'); }
      } }, `Revoke ${k.id}`)))));
    replace(connBody, ...conns.map((c) => h('tr', null, h('td', null, c.name), h('td', null, c.type), h('td', null, c.source ?? (c.readOnly ? 'config' : 'api')), h('td', null, c.description ?? ''))));
  };
  const user = h('input', { name: 'user', autocomplete: 'off' });
  const agent = h('input', { name: 'agent', autocomplete: 'off' });
  const groups = h('input', { name: 'groups', autocomplete: 'off' });
  const expires = h('input', { name: 'expires', autocomplete: 'off', placeholder: '30d' });
  const description = h('input', { name: 'description', autocomplete: 'off' });
  const form = h('form', { class: 'card', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const body = { ...(user.value.trim() ? { user: user.value.trim() } : {}), ...(agent.value.trim() ? { agent: agent.value.trim() } : {}),
        groups: groups.value.split(',').map((g) => g.trim()).filter(Boolean), ...(expires.value.trim() ? { expires: expires.value.trim() } : {}),
        ...(description.value.trim() ? { description: description.value.trim() } : {}) };
      const k = await api('POST', '/api/v1/api-keys', body);
      replace(created, h('p', { class: 'card ok' }, 'New key (shown once; copy it now): ', h('code', null, k.key)));
      await load();
    } catch (e) { replace(created, h('p', { class: 'error', role: 'alert' }, e.message)); }
  } }, h('h2', null, 'Create an API key'), field('User', user), field('Agent', agent), field('Groups (comma separated)', groups),
  field('Expires after', expires), field('Description', description), h('button', { type: 'submit' }, 'Create key'), created);
  replace(root, h('h1', null, 'Keys and connections'),
    h('h2', null, 'API keys'),
    h('table', { class: 'list' }, h('caption', { class: 'sr-only' }, 'API keys'),
      h('thead', null, h('tr', null, ...['Id', 'User', 'Agent', 'Groups', 'Description', 'Created', 'Expires', 'State'].map((t) => h('th', { scope: 'col' }, t)))), keysBody),
    form,
    h('h2', null, 'Connections'),
    h('table', { class: 'list' }, h('caption', { class: 'sr-only' }, 'Connections'),
      h('thead', null, h('tr', null, ...['Name', 'Type', 'Source', 'Description'].map((t) => h('th', { scope: 'col' }, t)))), connBody));
  await load();
}

/** Principal, action, connection, SQL → the decision and the policies that produced it. */
export async function playgroundPage(root) {
  const principal = h('input', { name: 'principal', required: true, autocomplete: 'off' });
  const groups = h('input', { name: 'groups', autocomplete: 'off' });
  const agent = h('input', { name: 'agent', autocomplete: 'off' });
  const action = h('input', { name: 'action', autocomplete: 'off', placeholder: 'decided by the SQL when empty' });
  const connection = h('input', { name: 'connection', autocomplete: 'off' });
  const sql = h('textarea', { name: 'sql', rows: 4 });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', '/api/v1/policy/explain', {
        principal: principal.value.trim(), groups: groups.value.split(',').map((g) => g.trim()).filter(Boolean),
        ...(agent.value.trim() ? { agent: agent.value.trim() } : {}), ...(action.value.trim() ? { action: action.value.trim() } : {}),
        ...(connection.value.trim() ? { connection: connection.value.trim() } : {}), ...(sql.value.trim() ? { sql: sql.value } : {}),
      });
      replace(out, h('section', { class: 'card' }, h('h2', null, 'Decision: ', h('span', { class: `badge ${r.effect}` }, r.effect)),
        dl([['Actions evaluated', (r.actions ?? []).join(', ')], ['Policies that decided', (r.reasons ?? []).join(', ') || 'none (default deny)'],
          ['Review rule', r.review_rule ?? '']]),
        h('details', null, h('summary', null, 'Full explanation'), h('pre', { class: 'facts' }, asText(r)))));
    } catch (e) { replace(out, h('p', { class: 'error', role: 'alert' }, e.message)); }
  } }, field('Principal (user)', principal), field('Groups (comma separated)', groups), field('Agent (optional)', agent),
  field('Action', action), field('Connection', connection), field('SQL (optional)', sql), h('button', { type: 'submit' }, 'Explain'));
  replace(root, h('h1', null, 'Policy playground'),
    h('p', { class: 'lead' }, 'Ask the policy engine what it would decide, without running anything. Same engine as gatehouse policy explain.'),
    form, out);
}
