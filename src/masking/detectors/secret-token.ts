import { codeAt, isAlnum, isBase64Url, isDigit, isUpper, trailingRunStart } from './scan-util.ts';
import type { Detector, Finding, SecretKind } from './types.ts';

const MAX_LENGTH = 256;

interface TokenRule {
  readonly prefix: string;
  readonly kind: SecretKind;
  readonly body: (c: number) => boolean;
  readonly min: number;
  readonly max: number;
  /** Extra check on the body (e.g. it must mix letters and digits). */
  readonly check?: (body: string) => boolean;
}

const upperOrDigit = (c: number): boolean => isUpper(c) || isDigit(c);
const alnumOrUnderscore = (c: number): boolean => isAlnum(c) || c === 95;
const alnumOrDash = (c: number): boolean => isAlnum(c) || c === 45;
const mixed = (body: string): boolean => /[0-9]/.test(body) && /[A-Za-z]/.test(body);

/** Longer prefixes first: `sk-ant-` and `sk-proj-` before `sk-`. */
const RULES: readonly TokenRule[] = [
  { prefix: 'AKIA', kind: 'aws_access_key', body: upperOrDigit, min: 16, max: 16 },
  { prefix: 'ASIA', kind: 'aws_access_key', body: upperOrDigit, min: 16, max: 16 },
  ...['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'].map((prefix): TokenRule => ({ prefix, kind: 'github_token', body: isAlnum, min: 30, max: 250 })),
  { prefix: 'github_pat_', kind: 'github_token', body: alnumOrUnderscore, min: 22, max: 245 },
  { prefix: 'ghk_', kind: 'gatehouse_key', body: isAlnum, min: 40, max: 40 },
  ...['xoxb-', 'xoxp-', 'xoxa-', 'xoxr-', 'xoxs-', 'xapp-'].map((prefix): TokenRule => ({ prefix, kind: 'slack_token', body: alnumOrDash, min: 10, max: 250 })),
  { prefix: 'sk-ant-', kind: 'anthropic_key', body: isBase64Url, min: 32, max: 249 },
  { prefix: 'sk-proj-', kind: 'openai_key', body: isBase64Url, min: 20, max: 248 },
  { prefix: 'sk-', kind: 'openai_key', body: isBase64Url, min: 20, max: 253, check: mixed },
  ...['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_'].map((prefix): TokenRule => ({ prefix, kind: 'stripe_key', body: isAlnum, min: 16, max: 248 })),
  { prefix: 'AIza', kind: 'google_api_key', body: isBase64Url, min: 35, max: 35 },
];

const PREFIXES: readonly string[] = RULES.map((r) => r.prefix);
const MAX_PREFIX = Math.max(...PREFIXES.map((p) => p.length));

const TRIGGER = /AKIA|ASIA|gh[pousrk]_|github_pat_|xox[abprs]-|xapp-|sk-|[rs]k_(?:live|test)_|AIza/g;

/** The token at `s` for `rule`: prefix + a maximal body run within [min, max], not glued to more text. */
function tokenEnd(text: string, s: number, rule: TokenRule): number {
  let i = s + rule.prefix.length;
  const limit = Math.min(text.length, i + rule.max + 1);
  while (i < limit && rule.body(text.charCodeAt(i))) i++;
  const n = i - s - rule.prefix.length;
  if (n < rule.min || n > rule.max || isAlnum(codeAt(text, i))) return -1;
  if (rule.check !== undefined && !rule.check(text.slice(s + rule.prefix.length, i))) return -1;
  return i;
}

/**
 * SECRET (well-known token formats): AWS access key ids (`AKIA`/`ASIA` + 16), GitHub
 * (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), Slack (`xoxb-` …, `xapp-`), OpenAI
 * (`sk-`, `sk-proj-`), Anthropic (`sk-ant-`), Stripe (`sk_live_`, `rk_live_`, test keys), Google
 * API keys (`AIza` + 35) and Gatehouse API keys (`ghk_` + 40). Findings carry the `kind`.
 *
 * @example
 *   secretTokenDetector.find('key AKIAIOSFODNN7EXAMPLE') // [{ entity: 'SECRET', kind: 'aws_access_key', start: 4, end: 24 }]
 */
export const secretTokenDetector: Detector = {
  entity: 'SECRET',
  maxLength: MAX_LENGTH,
  lookbehind: 1,
  find(text: string): Finding[] {
    const out: Finding[] = [];
    TRIGGER.lastIndex = 0;
    for (let m = TRIGGER.exec(text); m !== null; m = TRIGGER.exec(text)) {
      const s = m.index;
      TRIGGER.lastIndex = s + 1;
      if (isAlnum(codeAt(text, s - 1))) continue;
      for (const rule of RULES) {
        if (!text.startsWith(rule.prefix, s)) continue;
        const end = tokenEnd(text, s, rule);
        if (end !== -1) {
          out.push({ entity: 'SECRET', kind: rule.kind, start: s, end });
          break;
        }
        if (rule.prefix !== 'sk-ant-' && rule.prefix !== 'sk-proj-') break;
      }
    }
    return out;
  },
  pendingFrom(text: string): number {
    // A token starts at a prefix that no letter or digit precedes, inside the run of token
    // characters that ends the text (a token that ended before it is decided); the earliest such
    // start is held, or a prefix that may still be arriving at the very end.
    const run = trailingRunStart(text, isBase64Url, MAX_LENGTH + 4);
    TRIGGER.lastIndex = run;
    for (let m = TRIGGER.exec(text); m !== null; m = TRIGGER.exec(text)) {
      TRIGGER.lastIndex = m.index + 1;
      if (!isAlnum(codeAt(text, m.index - 1))) return m.index;
    }
    for (let k = Math.max(run, text.length - MAX_PREFIX + 1); k < text.length; k++) {
      if (isAlnum(codeAt(text, k - 1))) continue;
      const tail = text.slice(k);
      if (PREFIXES.some((prefix) => prefix.length > tail.length && prefix.startsWith(tail))) return k;
    }
    return text.length;
  },
};
