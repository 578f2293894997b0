/**
 * getopt-style scanning of a command's words: which leading words are options (and their
 * values), where the operands start. A non-literal word ends the scan (its meaning is unknown).
 */
import { literalValue, type Word } from './words.ts';

export interface OptionSpec {
  /** Short options that take a value (`-u root`, `-uroot`). */
  readonly short?: string;
  /** Long options (without `--`) that take a value when written without `=`. */
  readonly long?: readonly string[];
  /** Leading `NAME=value` words are assignments (env, sudo). */
  readonly assignments?: boolean;
  /** Options may follow operands (GNU permutation): scan every word. */
  readonly permute?: boolean;
}

export interface Scanned {
  /** Options seen: short letters and long names, with their value when they take one. */
  readonly opts: Map<string, Word | true>;
  /** Operands (non-option words), in order. */
  readonly operands: Word[];
  /** A non-literal word stood where an option could be. */
  readonly dynamic: boolean;
}

/** Scans `words` per `spec`. Without `permute`, the first operand and everything after it are operands. */
export function scanOptions(words: readonly Word[], spec: OptionSpec): Scanned {
  const opts = new Map<string, Word | true>();
  const operands: Word[] = [];
  let dynamic = false;
  let done = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (!w) break;
    if (done) { operands.push(w); continue; }
    const v = literalValue(w);
    if (v === undefined) {
      dynamic = true;
      operands.push(w);
      if (!spec.permute) done = true;
      continue;
    }
    if (v === '--') { done = true; continue; }
    if (spec.assignments && operands.length === 0 && isAssignment(v)) continue;
    if (v.startsWith('--') && v.length > 2) {
      const eq = v.indexOf('=');
      const name = eq > 0 ? v.slice(2, eq) : v.slice(2);
      if (eq > 0) opts.set(name, { ...w, alts: [v.slice(eq + 1)], raws: [v.slice(eq + 1)], text: v.slice(eq + 1) });
      else if (spec.long?.includes(name) && words[i + 1]) opts.set(name, words[++i] ?? true);
      else opts.set(name, true);
      continue;
    }
    if (v.startsWith('-') && v.length > 1) {
      for (let j = 1; j < v.length; j++) {
        const c = v[j] ?? '';
        if (spec.short?.includes(c)) {
          const attached = v.slice(j + 1);
          if (attached !== '') opts.set(c, { ...w, alts: [attached], raws: [attached], text: attached });
          else opts.set(c, words[++i] ?? true);
          break;
        }
        opts.set(c, true);
      }
      continue;
    }
    operands.push(w);
    if (!spec.permute) done = true;
  }
  return { opts, operands, dynamic };
}

/** `NAME=value` with a valid shell name. */
export function isAssignment(v: string): boolean {
  const eq = v.indexOf('=');
  if (eq <= 0) return false;
  for (let i = 0; i < eq; i++) {
    const c = v.charCodeAt(i);
    const ok = c === 95 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (i > 0 && c >= 48 && c <= 57);
    if (!ok) return false;
  }
  return true;
}

/** Index in `words` of the first operand per `spec` (words.length when none). */
export function firstOperandIndex(words: readonly Word[], spec: OptionSpec): number {
  const s = scanOptions(words, { ...spec, permute: false });
  const first = s.operands[0];
  return first === undefined ? words.length : words.indexOf(first);
}
