/** Longest strings compared; anything longer gets no suggestion (bounds the O(n·m) distance). */
const MAX_LEN = 128;

/**
 * The candidate closest to `input` by edit distance (case-insensitive), when it is close enough
 * to be a plausible typo: 1 edit for names of up to 3 characters, else 2 or a third of the length. Used for "did you mean" hints in configuration errors.
 *
 * @example closest('ap', ['app', 'crm']) === 'app'
 * @example closest('EMALE', ['EMAIL', 'PHONE']) === 'EMAIL'
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  if (input.length === 0 || input.length > MAX_LEN) return undefined;
  const want = input.toLowerCase();
  const limit = want.length <= 3 ? 1 : Math.max(2, Math.floor(want.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c.length > MAX_LEN || c === input) continue;
    const d = distance(want, c.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)`, or `''` when nothing is close. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const c = closest(input, candidates);
  return c === undefined ? '' : ` (did you mean "${c}"?)`;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
function distance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
