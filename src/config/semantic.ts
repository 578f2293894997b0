import { RE2 } from 're2-wasm';
import { parseDuration } from '../kernel/duration.ts';
import { didYouMean } from '../kernel/suggest.ts';
import { isClaimName, NAME_PATTERN } from '../identity/names.ts';
import { REGISTRY } from '../protocols/registry.ts';
import type { ConfigIssue } from './config-error.ts';
import type { GatehouseConfig } from './types.ts';
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
  checkConnectionReferences(doc, issues, locate);
  checkListeners(doc, issues, locate);
  checkTimeouts(doc, issues, locate);
  checkNoPasswordInUrls(doc, issues, locate);
  return issues;
}

/** `*` matches any characters (the same globs as policy/review-rules and the masking rules). */
function globMatches(glob: string, name: string): boolean {
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return re.test(name);
}

/**
 * Every connection name or glob in a masking or review rule must name a configured connection, or
 * one declared in `api_connections` (created through the admin API): a typo would otherwise turn
 * masking or reviews off for the real connection without a word. `"*"` alone always applies.
 */
function checkConnectionReferences(doc: unknown, issues: ConfigIssue[], locate: Locate): void {
  const configured = items(field(doc, 'connections')).map((c) => field(c, 'name')).filter((n): n is string => typeof n === 'string');
  const declared = items(field(doc, 'api_connections')).filter((n): n is string => typeof n === 'string');
  declared.forEach((name, i) => {
    if (configured.includes(name)) issue(issues, locate, ['api_connections', i], `"${name}" is configured under connections; list here only connections created through the admin API`);
  });
  const known = [...configured, ...declared];
  const check = (at: Path, entries: unknown): void => {
    items(entries).forEach((entry, j) => {
      if (typeof entry !== 'string' || entry === '*' || entry === '') return;
      const matches = entry.includes('*') ? known.some((n) => globMatches(entry, n)) : known.includes(entry);
      if (matches) return;
      const what = entry.includes('*') ? `glob "${entry}" matches no connection` : `no connection named "${entry}"`;
      issue(issues, locate, [...at, 'connections', j], `${what}${didYouMean(entry, known)}; `
        + 'a connection created through the admin API must be listed in api_connections');
    });
  };
  items(field(doc, 'masking', 'rules')).forEach((rule, i) => { check(['masking', 'rules', i], field(rule, 'connections')); });
  items(field(doc, 'reviews', 'rules')).forEach((rule, i) => { check(['reviews', 'rules', i], field(rule, 'connections')); });
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
  for (const which of ['http', ...REGISTRY.listeners().map((l) => l.name)]) {
    const addr = field(doc, 'server', which, 'listen');
    if (typeof addr !== 'string') continue;
    const host = addr.slice(0, addr.lastIndexOf(':'));
    if (!LOOPBACK_HOST.test(host)) {
      issue(issues, locate, ['server', which, 'listen'], 'a non-loopback address needs server.tls, or server.allow_insecure_public: true');
    }
  }
}

/** Node's HTTP server needs the headers deadline inside the whole-request deadline. */
function checkTimeouts(doc: unknown, issues: ConfigIssue[], locate: Locate): void {
  const read = (key: string): number | undefined => {
    const v = field(doc, 'server', 'http', key);
    return typeof v === 'string' ? parseDuration(v) : undefined;
  };
  const headers = read('headers_timeout');
  const request = read('request_timeout');
  if (headers !== undefined && request !== undefined && headers > request) {
    issue(issues, locate, ['server', 'http', 'headers_timeout'], 'must not exceed server.http.request_timeout');
  }
  for (const key of ['headers_timeout', 'request_timeout']) {
    const v = read(key);
    if (v !== undefined && v < 1000) issue(issues, locate, ['server', 'http', key], 'must be at least 1s');
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

/**
 * Problems that do not stop the gateway but make a rule useless, reported as warnings by
 * `config validate` and logged at start-up: review approver groups that no credential can carry
 * (API-key groups must match the group-name pattern; external OIDC groups need an issuer).
 *
 * @example configWarnings(config) // [{ path: '/reviews/rules/0/approvers/0', message: 'no API key can carry group "DB A" …' }]
 */
export function configWarnings(config: GatehouseConfig): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  const oidc = config.identity.issuers.length > 0;
  config.reviews.rules.forEach((rule, i) => {
    rule.approvers.forEach((group, j) => {
      if (NAME_PATTERN.test(group)) return;
      const viaOidc = oidc && isClaimName(group) && !/\s/.test(group);
      if (viaOidc) return;
      warnings.push({
        path: toPointer(['reviews', 'rules', i, 'approvers', j]),
        message: `no credential can carry group "${group.slice(0, 100)}" (API-key groups match ${NAME_PATTERN.source}`
          + `${oidc ? '' : '; no OIDC issuer is configured'}): nobody can approve reviews of rule "${rule.name}"`,
      });
    });
  });
  return warnings;
}
