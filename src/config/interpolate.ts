import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConfigIssue } from './config-error.ts';

/** Largest file `${file:…}` reads (secrets are small; certificates are given by path instead). */
export const MAX_INTERPOLATED_FILE_BYTES = 1024 * 1024;

export interface InterpolationContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory `${file:relative}` paths are resolved against. */
  readonly baseDir: string;
}

type Result = { ok: true; value: string } | { ok: false; message: string };

const VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Expands one string: `${VAR}` (error when unset), `${VAR:-default}` (default when unset or
 * empty), `${file:path}` (file contents, one trailing newline removed, path relative to
 * `baseDir`), and `$${` for a literal `${`. Any other `$` is literal. The result is never
 * re-scanned, and error messages name variables and files but never their values.
 *
 * @example interpolateString('Bearer ${TOKEN}', { env: { TOKEN: 'x' }, baseDir: '.' }) // { ok: true, value: 'Bearer x' }
 */
export function interpolateString(text: string, ctx: InterpolationContext): Result {
  if (!text.includes('${')) return { ok: true, value: text };
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('$', i);
    if (at < 0) { out += text.slice(i); break; }
    out += text.slice(i, at);
    if (text.startsWith('$${', at)) { out += '${'; i = at + 3; continue; }
    if (!text.startsWith('${', at)) { out += '$'; i = at + 1; continue; }
    const end = text.indexOf('}', at + 2);
    if (end < 0) return { ok: false, message: 'unterminated "${" (write "$${" for a literal "${")' };
    const expanded = expand(text.slice(at + 2, end), ctx);
    if (!expanded.ok) return expanded;
    out += expanded.value;
    i = end + 1;
  }
  return { ok: true, value: out };
}

function expand(expr: string, ctx: InterpolationContext): Result {
  if (expr.startsWith('file:')) return readSecretFile(expr.slice(5), ctx.baseDir);
  const sep = expr.indexOf(':-');
  const name = sep < 0 ? expr : expr.slice(0, sep);
  if (!VAR.test(name)) {
    return { ok: false, message: `invalid interpolation "\${${sep < 0 ? name : `${name}:-…`}}": expected \${VAR}, \${VAR:-default} or \${file:path}` };
  }
  const value = ctx.env[name];
  if (sep >= 0) return { ok: true, value: value === undefined || value === '' ? expr.slice(sep + 2) : value };
  if (value === undefined) return { ok: false, message: `environment variable ${name} is not set (use \${${name}:-default} for an optional value)` };
  return { ok: true, value };
}

function readSecretFile(path: string, baseDir: string): Result {
  if (path === '') return { ok: false, message: 'empty path in "${file:}"' };
  const full = isAbsolute(path) ? path : resolve(baseDir, path);
  try {
    const st = statSync(full);
    if (!st.isFile()) return { ok: false, message: `\${file:${path}}: not a regular file` };
    if (st.size > MAX_INTERPOLATED_FILE_BYTES) return { ok: false, message: `\${file:${path}}: larger than ${MAX_INTERPOLATED_FILE_BYTES} bytes` };
    return { ok: true, value: readFileSync(full, 'utf8').replace(/\r?\n$/, '') };
  } catch (err) {
    const code = err !== null && typeof err === 'object' && 'code' in err ? String(err.code) : 'unreadable';
    return { ok: false, message: `\${file:${path}}: cannot read file (${code})` };
  }
}

/**
 * Returns a copy of a parsed document with every string value interpolated; keys and non-string
 * scalars are left alone, so an interpolated value can never add structure. `restore` undoes
 * `protectExpressions` (placeholders.ts) first. Problems are appended to `issues` with their
 * JSON-Pointer path; offending values become `""`.
 */
export function interpolateTree(
  value: unknown, ctx: InterpolationContext, issues: ConfigIssue[],
  restore: (s: string) => string = (s) => s, path: readonly (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    const r = interpolateString(restore(value), ctx);
    if (r.ok) return r.value;
    issues.push({ path: toPointer(path), message: r.message });
    return '';
  }
  if (Array.isArray(value)) return value.map((v: unknown, i) => interpolateTree(v, ctx, issues, restore, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [rawKey, v] of Object.entries(value)) {
      const k = restore(rawKey); // keys are never interpolated, only given back their text
      // defineProperty: a key named "__proto__" stays a plain (and then unknown, rejected) key.
      Object.defineProperty(out, k, { value: interpolateTree(v, ctx, issues, restore, [...path, k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** `['connections', 0, 'url']` → `/connections/0/url` (RFC 6901 escaping). */
export function toPointer(path: readonly (string | number)[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}
