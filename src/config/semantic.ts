import { RE2 } from 're2-wasm';
import { parseDuration } from '../kernel/duration.ts';
import type { ConfigIssue } from './config-error.ts';
import { toPointer } from './interpolate.ts';
import type { Locate } from './validate.ts';

/*
 * Checks JSON Schema cannot express: unique names, cross-field limits, RE2 compilation.
 * They read the data defensively (it may also have failed the schema), so every problem in a
 * file is reported in one pass. Messages never quote configured values other than names.
 */

type Path = (string | number)[];
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const field = (v: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), v);

function issue(issues: ConfigIssue[], locate: Locate, path: Path, message: string): void {
  const line = locate(path);
  issues.push({ path: toPointer(path), message, ...(line === undefined ? {} : { line }) });
}

/**
 * Checks on the document as written, before defaults are filled in: a `duration` on a `command`
 * review rule (it would otherwise be indistinguishable from the default).
 */
export function checkBeforeDefaults(doc: unknown, locate: Locate): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  items(field(doc, 'reviews', 'rules')).forEach((rule, i) => {
    if (isObj(rule) && rule.kind === 'command' && 'duration' in rule) {
      issue(issues, locate, ['reviews', 'rules', i, 'duration'], 'only allowed when kind is jit');
    }
  });
  return issues;
}

/** Checks on the document after schema validation filled in defaults. */
export function checkAfterDefaults(doc: unknown, locate: Locate): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  unique(doc, ['connections'], 'name', 'connection name', issues, locate);
  unique(doc, ['reviews', 'rules'], 'name', 'review rule name', issues, locate);
  unique(doc, ['identity', 'issuers'], 'issuer', 'issuer', issues, locate);
  checkReviews(doc, issues, locate);
  checkMasking(doc, issues, locate);
  checkListeners(doc, issues, locate);
  checkNoPasswordInUrls(doc, issues, locate);
  return issues;
}

function unique(doc: unknown, at: string[], key: string, what: string, issues: ConfigIssue[], locate: Locate): void {
  const first = new Map<string, number>();
  items(field(doc, ...at)).forEach((entry, i) => {
    const value = field(entry, key);
    if (typeof value !== 'string') return;
    const prev = first.get(value);
    if (prev === undefined) first.set(value, i);
    else issue(issues, locate, [...at, i, key], `duplicate ${what} "${value}" (first at ${toPointer([...at, prev])})`);
  });
}

function checkReviews(doc: unknown, issues: ConfigIssue[], locate: Locate): void {
  const maxText = field(doc, 'reviews', 'max_duration');
  const max = typeof maxText === 'string' ? parseDuration(maxText) : undefined;
  items(field(doc, 'reviews', 'rules')).forEach((rule, i) => {
    const d = field(rule, 'duration');
    const ms = typeof d === 'string' ? parseDuration(d) : undefined;
    if (field(rule, 'kind') !== 'jit' || ms === undefined || max === undefined) return;
    if (ms === 0) issue(issues, locate, ['reviews', 'rules', i, 'duration'], 'must be longer than 0');
    if (ms > max) issue(issues, locate, ['reviews', 'rules', i, 'duration'], `exceeds reviews.max_duration (${String(maxText)})`);
  });
}

function checkMasking(doc: unknown, issues: ConfigIssue[], locate: Locate): void {
  let usesHash = false;
  items(field(doc, 'masking', 'rules')).forEach((rule, i) => {
    if (!isObj(rule)) return;
    const at: Path = ['masking', 'rules', i];
    const columns = isObj(rule.columns) ? Object.values(rule.columns) : [];
    if (rule.entities === undefined && rule.patterns === undefined && rule.columns === undefined) {
      issue(issues, locate, at, 'give at least one of entities, columns or patterns');
    }
    if ((rule.strategy === 'hash' && (rule.entities !== undefined || rule.patterns !== undefined)) || columns.includes('hash')) usesHash = true;
    items(rule.patterns).forEach((p, j) => {
      const regex = field(p, 'regex');
      if (typeof regex !== 'string' || regex === '') return;
      try {
        new RE2(regex, 'u');
      } catch (err) {
        const message = err instanceof Error ? err.message : '';
        const prefix = `Invalid regular expression: /${regex}/u: `;
        const why = message.startsWith(prefix) ? message.slice(prefix.length) : 'invalid';
        issue(issues, locate, [...at, 'patterns', j, 'regex'], `not a valid RE2 regular expression (${why})`);
      }
    });
  });
  if (usesHash && field(doc, 'masking', 'hash_key') === undefined) {
    issue(issues, locate, ['masking', 'hash_key'], 'is required when a masking rule uses the hash strategy');
  }
}

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)$/i;

function checkListeners(doc: unknown, issues: ConfigIssue[], locate: Locate): void {
  if (field(doc, 'server', 'tls') !== undefined || field(doc, 'server', 'allow_insecure_public') === true) return;
  for (const which of ['http', 'postgres']) {
    const addr = field(doc, 'server', which, 'listen');
    if (typeof addr !== 'string') continue;
    const host = addr.slice(0, addr.lastIndexOf(':'));
    if (!LOOPBACK_HOST.test(host)) {
      issue(issues, locate, ['server', which, 'listen'], 'a non-loopback address needs server.tls, or server.allow_insecure_public: true');
    }
  }
}

/** URLs are shown by the admin API and in logs: a password belongs in a secret field instead. */
function checkNoPasswordInUrls(doc: unknown, issues: ConfigIssue[], locate: Locate): void {
  const check = (url: unknown, path: Path, instead: string): void => {
    if (typeof url !== 'string' || !URL.canParse(url)) return;
    if (new URL(url).password !== '') issue(issues, locate, path, `must not contain a password; use ${instead}`);
  };
  items(field(doc, 'connections')).forEach((c, i) => { check(field(c, 'url'), ['connections', i, 'url'], 'credentials.password'); });
  check(field(doc, 'store', 'postgres', 'url'), ['store', 'postgres', 'url'], 'store.postgres.password');
}
