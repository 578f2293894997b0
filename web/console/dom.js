// Building DOM from data. Every value becomes a Text node or an attribute set with
// setAttribute; nothing here ever parses a string as HTML, so a recorded "<img onerror=…>" is shown
// as the characters it is.

/**
 * h('a', { href: '/ui/x', onclick: fn }, 'text', child) — an element; string children become text.
 * Attributes named on* must be functions (event listeners); others are strings.
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...(Node | string | number | null | undefined | false | Array<Node | string>)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) {
        if (typeof v !== 'function') throw new TypeError(`${k} must be a function`);
        el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
      } else if (v === true) {
        el.setAttribute(k, '');
      } else {
        el.setAttribute(k, String(v));
      }
    }
  }
  append(el, children);
  return el;
}

/** Appends children (strings as text). */
export function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

/** Replaces all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A value as text: strings as they are, everything else as indented JSON. */
export function asText(v) {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v, null, 2);
}

/** "3 min", "2 h 5 min" from milliseconds. */
export function age(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr} h ${m % 60} min`;
  return `${Math.floor(hr / 24)} d`;
}

/** An ISO time as local "YYYY-MM-DD HH:MM:SS". */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A labelled form field: label + control, linked by id. */
let fieldSeq = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('small', null, hint) : null);
}

/** A definition list from [term, value] pairs (values as text or nodes). */
export function dl(pairs) {
  const el = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    el.append(h('dt', null, k), h('dd', null, v instanceof Node ? v : String(v)));
  }
  return el;
}
