import { summarize, type FindingSummary, type TextMasker } from '../../masking/text-masker.ts';
import type { Finding } from '../../masking/detectors/types.ts';
import { mapStrings } from './walk.ts';

/** What the prompt inspector learned: finding types and counts (never values). */
export interface PromptFindings extends FindingSummary {
  /** Strings inspected (messages, parts, tool arguments, …). */
  readonly strings: number;
}

/**
 * Scans every content string of a request body (see `walk.ts`) with `scanner` and summarizes
 * the findings for policy. Pure: `body` is not changed. Errors propagate (callers deny).
 *
 * @example
 *   const f = inspectPrompt(JSON.parse(raw), scanner); // { secret_types: ['SECRET'], pii_types: [], findings: 1, … }
 */
export function inspectPrompt(body: unknown, scanner: TextMasker): PromptFindings {
  const all: Finding[] = [];
  const strings = mapStrings(body, (s) => {
    for (const f of scanner.scan(s)) all.push(f);
    return s;
  });
  return { ...summarize(all), strings };
}

/**
 * Egress redaction: replaces every detected entity in every content string of `body`, in place,
 * with `masker`'s strategy. Returns how many entities were replaced.
 *
 * @example
 *   const n = redactPrompt(body, rules.textMasker('openai', 'request')!); // then JSON.stringify(body)
 */
export function redactPrompt(body: unknown, masker: TextMasker): number {
  let n = 0;
  mapStrings(body, (s) => {
    const r = masker.mask(s);
    n += r.findings.length;
    return r.text;
  });
  return n;
}
