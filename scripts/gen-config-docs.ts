/**
 * Writes docs/configuration.md from schema/gatehouse.schema.json: every key with its type,
 * default, description and allowed values, one table per top-level section, plus the schema's
 * conditional rules in words. `node scripts/gen-config-docs.ts --check` exits 1 instead when the
 * committed file is stale (test/docs.test.ts runs the same comparison).
 */
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A JSON Schema node, as far as the generator reads it. */
type Node = Readonly<Record<string, unknown>>;

const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);
const nodeAt = (n: Node, k: string): Node | undefined => { const v = n[k]; return isNode(v) ? v : undefined; };
const props = (n: Node): [string, Node][] => Object.entries(nodeAt(n, 'properties') ?? {}).filter((e): e is [string, Node] => isNode(e[1]));
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Where the schema and the generated document live. */
export const SCHEMA_PATH = fileURLToPath(new URL('../schema/gatehouse.schema.json', import.meta.url));
export const DOC_PATH = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

/**
 * The configuration reference as Markdown, from the JSON Schema (deterministic: the same schema
 * always gives the same bytes).
 *
 * @example
 *   const md = renderConfigDocs(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
 */
export function renderConfigDocs(schema: Node): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from schema/gatehouse.schema.json by scripts/gen-config-docs.ts. Do not edit:',
    '     change src/config/schema.ts, run `node scripts/gen-schema.ts` then `node scripts/gen-config-docs.ts`. -->',
    '',
    'Gatehouse reads one YAML file: `gatehouse.yaml` (or `--config`, `GATEHOUSE_CONFIG`), else',
    '`gatehouse.example.yaml`. It is validated against the JSON Schema `schema/gatehouse.schema.json`',
    '(point your editor at it for completion: `# yaml-language-server: $schema=schema/gatehouse.schema.json`),',
    'defaults are applied, and the result is frozen. Check a file with `gatehouse config validate`.',
    '',
    text(schema.description),
    '',
    '- **Durations** are an integer and a unit: `500ms`, `60s`, `15m`, `8h`, `90d`.',
    '- **Sizes** are an integer and a unit: `512b`, `64kb`, `10mb`, `1gb` (1kb = 1024 bytes).',
    '  Both are checked and converted once, at load (to milliseconds and bytes): a value too large',
    '  for that is refused there, naming the setting.',
    '- **Secrets** (credentials, passwords, keys) are written as `${ENV_VAR}` or `${file:/run/secrets/x}`;',
    '  after loading they are held as secrets and never logged or returned by the API.',
    '- **Relative paths** are relative to the configuration file.',
    '',
    '## Sections',
    '',
    ...props(schema).map(([k, n]) => `- [\`${k}\`](#${k}) — ${text(n.description)}`),
    '',
  ];
  for (const [key, node] of props(schema)) {
    out.push(`## ${key}`, '', text(node.description), '', '| Key | Type | Default | Description |', '|---|---|---|---|');
    const notes: string[] = [];
    rows(key, node, new Set(strings(schema.required)).has(key), out, notes);
    out.push('');
    if (notes.length > 0) out.push('Rules the schema also enforces:', '', ...notes.map((n) => `- ${n}`), '');
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** The table row of `path` and of everything below it (object properties, array items). */
function rows(path: string, n: Node, required: boolean, out: string[], notes: string[]): void {
  out.push(`| \`${path}\` | ${typeOf(n)} | ${defaultOf(n)} | ${cell(describe(n, required))} |`);
  collectRules(path, n, notes);
  const req = new Set(strings(n.required));
  for (const [k, child] of props(n)) rows(`${path}.${k}`, child, req.has(k), out, notes);
  const items = nodeAt(n, 'items');
  if (items && (isNode(items.properties) || items.type === 'object')) {
    const ireq = new Set(strings(items.required));
    collectRules(`${path}[]`, items, notes);
    for (const [k, child] of props(items)) rows(`${path}[].${k}`, child, ireq.has(k), out, notes);
  }
}

function typeOf(n: Node): string {
  const t = n.type;
  const one = (x: unknown): string => {
    if (x === 'array') {
      const items = nodeAt(n, 'items');
      return items ? `list of ${items.type === 'object' ? 'objects' : typeName(items)}` : 'list';
    }
    if (x === 'object' && isNode(n.additionalProperties)) return `map of ${typeName(n.additionalProperties)}`;
    return String(x);
  };
  const base = Array.isArray(t) ? t.map(one).join(' or ') : t === undefined ? 'any' : one(t);
  return typeof n.format === 'string' ? `${base} (${n.format})` : base;
}

function typeName(n: Node): string {
  return Array.isArray(n.type) ? n.type.map(String).join(' or ') : typeof n.type === 'string' ? n.type : 'any';
}

function defaultOf(n: Node): string {
  if (!('default' in n)) return '—';
  const d = n.default;
  if (isNode(d) && Object.keys(d).length === 0) return '`{}` (all defaults)';
  return cell(`\`${JSON.stringify(d)}\``);
}

/** The description, then what the value must be: required, allowed values, pattern, bounds. */
function describe(n: Node, required: boolean): string {
  const parts: string[] = [];
  if (required) parts.push('**Required.**');
  parts.push(text(n.description));
  const values = (x: Node | undefined): string[] => strings(x?.enum);
  const own = values(n);
  const item = values(nodeAt(n, 'items'));
  const mapped = values(isNode(n.additionalProperties) ? n.additionalProperties : undefined);
  if (own.length > 0) parts.push(`One of: ${own.map((v) => `\`${v}\``).join(', ')}.`);
  if (item.length > 0) parts.push(`Items, one of: ${item.map((v) => `\`${v}\``).join(', ')}.`);
  if (mapped.length > 0) parts.push(`Values, one of: ${mapped.map((v) => `\`${v}\``).join(', ')}.`);
  const keyPattern = nodeAt(n, 'propertyNames')?.pattern;
  if (typeof keyPattern === 'string') parts.push(`Keys match \`${keyPattern}\`.`);
  if (typeof n.pattern === 'string' && !/Duration:|Size:/.test(text(n.description))) parts.push(`Pattern: \`${n.pattern}\`.`);
  const bound = (v: unknown): string => (typeof v === 'number' ? String(v) : '…');
  if (typeof n.minimum === 'number' || typeof n.maximum === 'number') parts.push(`Range: ${bound(n.minimum)}–${bound(n.maximum)}.`);
  if (typeof n.minLength === 'number' && n.minLength > 1) parts.push(`At least ${n.minLength} characters.`);
  if (typeof n.maxLength === 'number') parts.push(`At most ${n.maxLength} characters.`);
  if (typeof n.minItems === 'number' && n.minItems > 0) parts.push(`At least ${n.minItems} item${n.minItems === 1 ? '' : 's'}.`);
  if (n.uniqueItems === true) parts.push('No duplicates.');
  return parts.filter((p) => p !== '').join(' ');
}

/** `dependentRequired` and `allOf` if/then/else conditions of an object, in words. */
function collectRules(path: string, n: Node, notes: string[]): void {
  const dep = nodeAt(n, 'dependentRequired');
  if (dep) {
    for (const [k, v] of Object.entries(dep)) notes.push(`\`${path}.${k}\` requires ${strings(v).map((x) => `\`${path}.${x}\``).join(' and ')}.`);
  }
  const all = Array.isArray(n.allOf) ? n.allOf.filter(isNode) : [];
  for (const c of all) {
    const cond = conditionOf(path, nodeAt(c, 'if'));
    if (cond === undefined) continue;
    const then = effects(path, nodeAt(c, 'then'));
    const otherwise = effects(path, nodeAt(c, 'else'));
    if (then) notes.push(`When ${cond}: ${then}.`);
    if (otherwise) notes.push(`Otherwise: ${otherwise}.`);
  }
}

function conditionOf(path: string, n: Node | undefined): string | undefined {
  if (!n) return undefined;
  const parts = props(n).flatMap(([k, p]) => ('const' in p ? [`\`${path}.${k}\` is \`${JSON.stringify(p.const)}\``] : []));
  return parts.length > 0 ? parts.join(' and ') : undefined;
}

function effects(path: string, n: Node | undefined): string | undefined {
  if (!n) return undefined;
  const parts: string[] = [];
  const req = strings(n.required);
  if (req.length > 0) parts.push(`${req.map((k) => `\`${path}.${k}\``).join(', ')} ${req.length === 1 ? 'is' : 'are'} required`);
  for (const [k, v] of Object.entries(nodeAt(n, 'properties') ?? {})) {
    if (v === false) parts.push(`\`${path}.${k}\` is not allowed`);
    else if (isNode(v) && typeof v.pattern === 'string') parts.push(`\`${path}.${k}\` must match \`${v.pattern}\``);
    else if (isNode(v) && Array.isArray(v.enum)) parts.push(`\`${path}.${k}\` is one of ${strings(v.enum).map((x) => `\`${x}\``).join(', ')}`);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Safe inside a Markdown table cell: pipes escaped, no line breaks. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

const invoked = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invoked) {
  const doc = renderConfigDocs(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Node);
  if (process.argv.includes('--check')) {
    let current = '';
    try { current = readFileSync(DOC_PATH, 'utf8'); } catch { /* missing counts as stale */ }
    if (current !== doc) {
      console.error('docs/configuration.md is stale: run node scripts/gen-config-docs.ts');
      process.exit(1);
    }
  } else {
    writeFileSync(DOC_PATH, doc);
    console.log(`wrote ${DOC_PATH}`);
  }
}
