// The console's shell: who is signed in, the navigation, and a tiny path router over /ui/….
import { h, replace, field } from './dom.js';
import { api, setCsrf, ApiError } from './api.js';
import { inboxPage, reviewPage } from './inbox.js';
import { sessionsPage, replayPage } from './sessions.js';
import { auditPage, adminPage, playgroundPage } from './admin.js';

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const who = /** @type {HTMLElement} */ (document.getElementById('who'));
const toastEl = /** @type {HTMLElement} */ (document.getElementById('toast'));

/** The signed-in session ({ user, groups, csrf, … }) or null. */
let me = null;
/** Stops the current page's polling when the page changes. */
let stopPage = () => {};

const NAV = [
  ['/ui/inbox', 'Reviews'],
  ['/ui/sessions', 'Sessions'],
  ['/ui/audit', 'Audit'],
  ['/ui/admin', 'Keys & connections'],
  ['/ui/playground', 'Policy playground'],
];

/** Shows a short message in the live region. */
export function toast(text, kind = 'info') {
  toastEl.className = `toast ${kind}`;
  toastEl.textContent = text;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { toastEl.textContent = ''; toastEl.className = 'toast'; }, 6000);
}

/** Navigates inside the console without a reload. */
export function go(path) {
  if (location.pathname + location.search !== path) history.pushState(null, '', path);
  void route();
}

/** A link that navigates inside the console. */
export function link(path, text, attrs = {}) {
  return h('a', { href: path, ...attrs, onclick: (ev) => { if (ev.button === 0 && !ev.ctrlKey && !ev.metaKey) { ev.preventDefault(); go(path); } } }, text);
}

/** The signed-in principal. */
export function session() { return me; }

function renderShell() {
  replace(nav, ...(me ? NAV.map(([p, t]) => link(p, t, location.pathname.startsWith(p) || (p === '/ui/inbox' && location.pathname.startsWith('/ui/reviews')) ? { 'aria-current': 'page' } : {})) : []));
  if (me) {
    replace(who,
      h('span', null, `${me.user}`), ' ', h('span', { class: 'muted' }, `(${me.method})`), ' ',
      h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'));
  } else replace(who);
}

async function signOut() {
  try { await api('POST', '/ui/auth/logout', {}); } catch { /* already gone */ }
  me = null;
  setCsrf('');
  go('/ui/signin');
}

async function loadSession() {
  try {
    me = await api('GET', '/ui/auth/session');
    setCsrf(me.csrf);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    me = null;
  }
}

async function signinPage(root) {
  const methods = await api('GET', '/ui/auth/methods');
  const params = new URLSearchParams(location.search);
  const err = h('p', { class: 'error', role: 'alert' }, params.get('error') ?? '');
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const form = h('form', { class: 'card', onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    try {
      me = await api('POST', '/ui/auth/api-key', { key: key.value });
      setCsrf(me.csrf);
      go(params.get('next')?.startsWith('/ui/') ? params.get('next') : '/ui/inbox');
    } catch (e) { err.textContent = e.message; }
  } },
  h('h2', null, 'API key'),
  field('Gatehouse API key', key, 'A key created with gatehouse keys create (the bootstrap admin key is in the store directory).'),
  h('button', { type: 'submit' }, 'Sign in with API key'));
  const external = [];
  for (const o of methods.oidc ?? []) {
    external.push(h('a', { class: 'button', href: `/ui/auth/oidc/start?issuer=${encodeURIComponent(o.id)}` }, `Sign in with ${o.name}`));
  }
  if (methods.saml) {
    const next = params.get('next')?.startsWith('/ui/') ? `?next=${encodeURIComponent(params.get('next'))}` : '';
    external.push(h('a', { class: 'button', href: `/ui/auth/saml/start${next}` }, `Sign in with ${methods.saml.name} (SAML)`));
  }
  replace(root,
    h('h1', null, 'Sign in to Gatehouse'),
    err,
    external.length ? h('section', { class: 'card' }, h('h2', null, 'Single sign-on'), ...external) : null,
    form);
}

const ROUTES = [
  [/^\/ui\/?$/, () => (r) => inboxPage(r)],
  [/^\/ui\/inbox\/?$/, () => (r) => inboxPage(r)],
  [/^\/ui\/reviews\/(rv_[0-9A-Za-z]{16})$/, (m) => (r) => reviewPage(r, m[1])],
  [/^\/ui\/sessions\/?$/, () => (r) => sessionsPage(r)],
  [/^\/ui\/sessions\/([A-Za-z0-9_.:-]+)$/, (m) => (r) => replayPage(r, decodeURIComponent(m[1]))],
  [/^\/ui\/audit\/?$/, () => (r) => auditPage(r)],
  [/^\/ui\/admin\/?$/, () => (r) => adminPage(r)],
  [/^\/ui\/playground\/?$/, () => (r) => playgroundPage(r)],
];

async function route() {
  stopPage();
  stopPage = () => {};
  const path = location.pathname;
  if (!me && path !== '/ui/signin') await loadSession();
  if (!me && path !== '/ui/signin') {
    history.replaceState(null, '', `/ui/signin?next=${encodeURIComponent(path + location.search)}`);
  }
  renderShell();
  const root = h('div', { class: 'page' });
  replace(main, root);
  try {
    if (location.pathname === '/ui/signin') { await signinPage(root); return; }
    for (const [re, make] of ROUTES) {
      const m = re.exec(location.pathname);
      if (m) {
        const stop = await make(m)(root);
        if (typeof stop === 'function') stopPage = stop;
        return;
      }
    }
    replace(root, h('h1', null, 'Not found'), h('p', null, 'There is no console page here. '), link('/ui/inbox', 'Go to the reviews inbox'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { me = null; go('/ui/signin'); return; }
    replace(root, h('h1', null, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, e.message ?? String(e)));
  }
}

window.addEventListener('popstate', () => { void route(); });
void route();
