/** One policy statement cut out of a policy file, with where it starts (JS string index). */
export interface PolicySpan {
  readonly text: string;
  readonly start: number;
}

/**
 * Cuts a Cedar policy file into its statements, keeping each one's exact source text and start,
 * so that `policies()` shows the text as written and Cedar's offsets map back into the file.
 * Leading whitespace and `//` comments are not part of a span. Cedar statements end with `;`,
 * which only otherwise appears inside string literals and comments; both are skipped here.
 * The caller has already checked that the file parses, and checks the count against Cedar's.
 *
 * @example splitPolicies('permit(principal, action, resource);\n// x\nforbid(...);').length === 2
 */
export function splitPolicies(text: string): { spans: PolicySpan[]; trailing: boolean } {
  const spans: PolicySpan[] = [];
  let start = -1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl + 1;
      continue;
    }
    if (/\s/.test(c)) { i++; continue; }
    if (start === -1) start = i;
    if (c === '"') {
      i = skipString(text, i);
      continue;
    }
    if (c === ';') {
      spans.push({ text: text.slice(start, i + 1), start });
      start = -1;
    }
    i++;
  }
  return { spans, trailing: start !== -1 };
}

/** Index just past the string literal that opens at `open`. */
function skipString(text: string, open: number): number {
  let i = open + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') { i += 2; continue; }
    if (c === '"') return i + 1;
    i++;
  }
  return i;
}
