import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDuration, parseSize } from '../kernel/duration.ts';
import { DURATION_PATTERN, SIZE_PATTERN, type JsonSchema } from '../kernel/json-schema.ts';
import { ConfigError } from './config-error.ts';
import { finalizeConfig } from './finalize.ts';
import { loadConfig } from './load.ts';
import { loadedKey, unitOf, type Unit } from './numbers.ts';
import { CONFIG_SCHEMA } from './schema.ts';
import { validateAgainstSchema } from './validate.ts';

type Obj = Record<string, unknown>;
type Path = readonly (string | number)[];
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every duration and size property the schema declares, arrays entered at index 0. */
function unitFields(schema: JsonSchema, path: Path = []): { path: Path; unit: Unit }[] {
  const props = schema.properties;
  const out: { path: Path; unit: Unit }[] = [];
  if (!isObj(props)) return out;
  for (const [key, sub] of Object.entries(props)) {
    if (!isObj(sub)) continue;
    const unit = unitOf(sub);
    if (unit !== undefined) out.push({ path: [...path, key], unit });
    else if (sub.type === 'array' && isObj(sub.items)) out.push(...unitFields(sub.items, [...path, key, 0]));
    else out.push(...unitFields(sub, [...path, key]));
  }
  return out;
}

const FIELDS = unitFields(CONFIG_SCHEMA);
const pointer = (p: Path): string => `/${p.join('/')}`;

/** A document with one entry in every list holding durations, and the optional sections holding some. */
const BASE: Obj = {
  identity: {
    issuers: [{ issuer: 'https://idp.example.com', audience: 'gatehouse' }],
    saml: { idp_entity_id: 'urn:idp', idp_sso_url: 'https://idp.example.com/sso', idp_certificate: 'PEM' },
  },
  connections: [{ name: 'openai', type: 'llm', provider: 'openai', url: 'https://api.openai.com' }],
  reviews: { rules: [{ name: 'w', connections: ['openai'], actions: ['llm.invoke'], kind: 'jit', approvers: ['ops'] }] },
};

function setAt(doc: Obj, path: Path, value: unknown): Obj {
  let node: Obj | unknown[] = doc;
  for (const [i, part] of path.entries()) {
    const holder = node as Record<string | number, unknown>;
    if (i === path.length - 1) { holder[part] = value; break; }
    holder[part] ??= {};
    node = holder[part] as Obj;
  }
  return doc;
}

function getAt(doc: unknown, path: Path): unknown {
  return path.reduce<unknown>((n, part) => (n !== null && typeof n === 'object' ? (n as Record<string | number, unknown>)[part] : undefined), doc);
}

/** Where the loaded config holds a field: the last key renamed with its unit. */
const loadedPath = (path: Path, unit: Unit): Path => [...path.slice(0, -1), loadedKey(String(path.at(-1)), unit)];

const MULT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** A written duration or size (any letter case for sizes, leading zeros too) with the number it stands for. */
function written(unit: Unit): fc.Arbitrary<{ text: string; value: number }> {
  const suffixes = unit === 'ms' ? ['ms', 's', 'm', 'h', 'd'] : ['b', 'kb', 'mb', 'gb', 'KB', 'Mb', 'GB', 'B'];
  return fc.constantFrom(...suffixes).chain((suffix) => {
    const mult = MULT[suffix.toLowerCase()]!;
    return fc.tuple(fc.nat({ max: Math.floor(Number.MAX_SAFE_INTEGER / mult) }), fc.constantFrom('', '0', '00'))
      .map(([n, zeros]) => ({ text: `${zeros}${n}${suffix}`, value: n * mult }));
  });
}

describe('durations and sizes are numbers after load', () => {
  test('the schema\'s durations and sizes, found by their declaration (a floor: a new one is found without an edit here)', () => {
    const found = FIELDS.map((f) => `${pointer(f.path)} ${f.unit}`);
    for (const known of [
      '/server/http/headers_timeout ms', '/server/http/request_timeout ms', '/server/http/keep_alive_timeout ms',
      '/server/postgres/startup_timeout ms', '/server/postgres/message_timeout ms', '/server/postgres/max_message_size bytes',
      '/server/ssh/auth_timeout ms', '/server/body_limit bytes',
      '/identity/builtin/token_ttl ms', '/identity/issuers/0/jwks_cache ms', '/identity/saml/clock_skew ms', '/identity/saml/max_assertion_age ms',
      '/connections/0/timeouts/connect ms', '/connections/0/timeouts/headers ms', '/connections/0/timeouts/body ms',
      '/reviews/hold_timeout ms', '/reviews/max_duration ms', '/reviews/rules/0/duration ms',
      '/recording/max_session_bytes bytes', '/recording/retention ms', '/recording/session_idle ms',
      '/limits/inspection/timeout ms', '/limits/inspection/inline_sql bytes', '/limits/inspection/inline_prompt bytes', '/limits/inspection/max_sql bytes',
    ]) assert.ok(found.includes(known), `${known} is declared as a duration or size`);
  });

  test('every one of them is a number under its loaded name after load, the written name gone; no unit string is left', () => {
    const c = loadConfig({ text: JSON.stringify(BASE), env: {} });
    for (const { path, unit } of FIELDS) {
      const value = getAt(c, loadedPath(path, unit));
      assert.equal(typeof value, 'number', `${pointer(loadedPath(path, unit))} is a number`);
      assert.ok(Number.isSafeInteger(value));
      if (loadedKey(String(path.at(-1)), unit) !== path.at(-1)) assert.equal(getAt(c, path), undefined, `${pointer(path)} is gone`);
    }
    const strings: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') strings.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (isObj(v)) Object.values(v).forEach(walk);
    };
    walk(c);
    const unitText = strings.filter((s) => new RegExp(DURATION_PATTERN).test(s) || new RegExp(SIZE_PATTERN).test(s));
    assert.deepEqual(unitText, []);
  });

  test('property: the loaded number is what the old use-site parse gave, and the written number times its unit', () => {
    const base = structuredClone(BASE);
    assert.deepEqual(validateAgainstSchema(base, () => undefined), []);
    fc.assert(fc.property(
      fc.constantFrom(...FIELDS).chain((f) => written(f.unit).map((w) => ({ ...f, ...w }))),
      ({ path, unit, text, value }) => {
        const doc = setAt(structuredClone(base), path, text);
        const loaded = getAt(finalizeConfig(doc, '/base'), loadedPath(path, unit));
        const old = unit === 'ms' ? parseDuration(text) : parseSize(text);
        assert.equal(loaded, old);
        assert.equal(loaded, value);
      },
    ), { numRuns: 500 });
  });

  test('a written value is loaded as such through the whole loader (YAML, defaults, semantic checks)', () => {
    const c = loadConfig({ env: {}, text: 'server:\n  body_limit: 2MB\n  http: { headers_timeout: 1500ms }\nrecording: { session_idle: 1s, max_session_bytes: 4kb }\n' });
    assert.equal(c.server.body_limit_bytes, 2 * 1024 * 1024);
    assert.equal(c.server.http.headers_timeout_ms, 1500);
    assert.equal(c.recording.session_idle_ms, 1000);
    assert.equal(c.recording.max_session_bytes, 4096);
  });

  test('a bad value anywhere is refused at load, naming the field', () => {
    for (const { path, unit } of FIELDS) {
      for (const [bad, message] of [
        [unit === 'ms' ? '15 minutes' : '10 megabytes', unit === 'ms' ? /^must be a duration/ : /^must be a size/],
        [unit === 'ms' ? '1.5h' : '1.5mb', unit === 'ms' ? /^must be a duration/ : /^must be a size/],
        [`${'9'.repeat(20)}${unit === 'ms' ? 'd' : 'gb'}`, /^is too large \(at most 9007199254740991 (milliseconds|bytes)\)$/],
      ] as const) {
        const text = JSON.stringify(setAt(structuredClone(BASE), path, bad));
        const err = (() => { try { loadConfig({ text, env: {} }); } catch (e) { return e; } return undefined; })();
        assert.ok(err instanceof ConfigError, `${pointer(path)}: ${bad} is refused`);
        const named = err.errors.filter((e) => e.path === pointer(path)).map((e) => e.message);
        assert.ok(named.some((m) => message.test(m)), `${pointer(path)} is named with the reason (${err.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})`);
        assert.ok(!err.errors.some((e) => e.message.includes(bad)), 'no message quotes the value');
      }
    }
  });

  test('the loaded name says the unit, once', () => {
    assert.equal(loadedKey('session_idle', 'ms'), 'session_idle_ms');
    assert.equal(loadedKey('body_limit', 'bytes'), 'body_limit_bytes');
    assert.equal(loadedKey('max_session_bytes', 'bytes'), 'max_session_bytes');
  });
});
