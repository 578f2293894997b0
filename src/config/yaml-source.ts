import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { ConfigIssue } from './config-error.ts';

const MAX_SYNTAX_ERRORS = 10;

/** A parsed YAML document, its plain value, and a way to find the line of a path in it. */
export interface YamlSource {
  /** The document as plain data (`{}` for an empty file); undefined when it could not be parsed. */
  readonly value: unknown;
  readonly issues: readonly ConfigIssue[];
  /** 1-based line of the node at `path` (or of its key `key`), else of its nearest ancestor. */
  readonly locate: (path: readonly (string | number)[], key?: string) => number | undefined;
}

/**
 * Parses YAML 1.2 (core schema). Duplicate keys, several documents and syntax errors are issues.
 * Error messages never quote the source text (it may hold a secret).
 *
 * @example parseYaml('a: 1\na: 2').issues[0]?.message // 'Map keys must be unique'
 */
export function parseYaml(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter, strict: true });
  const lineAt = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;

  // A syntax error cascades: keep the first per line, at most MAX_SYNTAX_ERRORS of them.
  const issues: ConfigIssue[] = [];
  const lines = new Set<number | undefined>();
  for (const e of doc.errors) {
    const line = lineAt(e.pos[0]);
    if (lines.has(line) || issues.length >= MAX_SYNTAX_ERRORS) continue;
    lines.add(line);
    issues.push({ path: '', message: `YAML: ${safeMessage(e.message)}`, ...(line === undefined ? {} : { line }) });
  }

  const locate = (path: readonly (string | number)[], key?: string): number | undefined => {
    if (key !== undefined) {
      const parent = doc.getIn(path, true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
        if (pair && isScalar(pair.key)) return lineAt(pair.key.range?.[0]);
      }
    }
    for (let n = path.length; n >= 0; n--) {
      const line = lineAt(rangeStart(doc, path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  };

  if (issues.length > 0) return { value: undefined, issues, locate };
  try {
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    return { value: value ?? {}, issues, locate };
  } catch (err) {
    const message = err instanceof Error ? safeMessage(err.message) : 'cannot be read';
    return { value: undefined, issues: [{ path: '', message: `YAML: ${message}` }], locate };
  }
}

function rangeStart(doc: Document, path: readonly (string | number)[]): number | undefined {
  if (path.length === 0) return doc.contents?.range?.[0];
  const node: unknown = doc.getIn(path, true);
  if (node !== null && typeof node === 'object' && 'range' in node && Array.isArray(node.range)) {
    const start: unknown = node.range[0];
    return typeof start === 'number' ? start : undefined;
  }
  return undefined;
}

/** First line of a YAML error, without the source token it quotes (which may be a secret). */
function safeMessage(message: string): string {
  const first = message.split('\n', 1)[0] ?? message;
  return first.replace(/: ".*"$/, '').replace(/ at line \d+, column \d+$/, '');
}
