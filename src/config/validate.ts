import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { didYouMean } from '../kernel/suggest.ts';
import type { ConfigIssue } from './config-error.ts';
import { REGISTRY, type ProtocolSet } from '../protocols/registry.ts';
import { schemaFor } from './schema.ts';
import { DURATION_PATTERN, PATH_FORMAT, SIZE_PATTERN, type JsonSchema } from './schema-helpers.ts';

/** Finds the line of a JSON-Pointer path (and optionally of one of its keys) in the source. */
export type Locate = (path: readonly (string | number)[], key?: string) => number | undefined;

// ajv-formats is CommonJS; under Node's ESM loader its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const compiled = new WeakMap<ProtocolSet, { schema: JsonSchema; validate: ValidateFunction }>();

/** The compiled validator of `set` (built once): draft 2020-12, all errors, defaults inserted in place. */
function validator(set: ProtocolSet): { schema: JsonSchema; validate: ValidateFunction } {
  const known = compiled.get(set);
  if (known) return known;
  const ajv = new Ajv2020({
    allErrors: true, useDefaults: true, allowUnionTypes: true,
    strict: true, strictRequired: false, // if/then branches name properties declared beside them
  });
  addFormats(ajv);
  ajv.addFormat(PATH_FORMAT, true); // a file path: any string, resolved at load (finalize.ts)
  const schema = schemaFor(set);
  const entry = { schema, validate: ajv.compile(schema) };
  compiled.set(set, entry);
  return entry;
}

/**
 * Validates `data` against CONFIG_SCHEMA (the schema of the protocols of `set`), filling in
 * defaults **in place** (pass a private copy). Returns every problem with its JSON-Pointer path,
 * readable message and line.
 *
 * @example validateAgainstSchema({ server: { htp: {} } }, () => undefined) // [{ path: '/server/htp', message: 'unknown key …' }]
 */
export function validateAgainstSchema(data: unknown, locate: Locate, set: ProtocolSet = REGISTRY): ConfigIssue[] {
  const { schema, validate } = validator(set);
  if (validate(data)) return [];
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  const ctx: MessageContext = { data, schema, set };
  for (const e of validate.errors ?? []) {
    const issue = toIssue(e, locate, ctx);
    if (!issue) continue;
    const id = `${issue.path}\0${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push(issue);
  }
  return issues;
}

/** What a message may refer to: the document, the schema it failed, the protocols behind it. */
interface MessageContext {
  readonly data: unknown;
  readonly schema: JsonSchema;
  readonly set: ProtocolSet;
}

function toIssue(e: ErrorObject, locate: Locate, ctx: MessageContext): ConfigIssue | undefined {
  const segments = fromPointer(e.instancePath);
  const at = (path: string, line: number | undefined): ConfigIssue => ({ path, message: messageOf(e, ctx), ...(line === undefined ? {} : { line }) });
  switch (e.keyword) {
    case 'if': // the failing "then"/"else" branch reports the real problem
    case 'propertyNames': // the pattern error on the key itself is reported instead
      return undefined;
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: unknown }).additionalProperty);
      return at(`${e.instancePath}/${escape(key)}`, locate(segments, key));
    }
    case 'required': {
      const key = String((e.params as { missingProperty: unknown }).missingProperty);
      return at(`${e.instancePath}/${escape(key)}`, locate(segments));
    }
    default: {
      const propertyName = e.propertyName; // set on errors about a key itself (propertyNames)
      if (propertyName !== undefined) {
        return { path: `${e.instancePath}/${escape(propertyName)}`, message: `invalid key: ${messageOf(e, ctx)}`, ...lineOf(locate(segments, propertyName)) };
      }
      return at(e.instancePath, locate(segments));
    }
  }
}

/** `/connections/<n>/type`: the connection type, whose refusal the protocol registry words. */
const CONNECTION_TYPE_PATH = /^\/connections\/\d+\/type$/;
/** `/connections/<n>/<field>`: a connection field, possibly owned by one type. */
const CONNECTION_FIELD_PATH = /^\/connections\/\d+\/([^/]+)$/;

function messageOf(e: ErrorObject, ctx: MessageContext): string {
  const { data, set } = ctx;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = allowedKeys(ctx.schema, e.schemaPath);
      const hint = didYouMean(String(params.additionalProperty), allowed);
      return `unknown key${allowed.length > 0 ? ` (allowed here: ${allowed.join(', ')})` : ''}${hint}`;
    }
    case 'required':
      return 'is required';
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const value = valueAt(data, fromPointer(e.instancePath));
      if (CONNECTION_TYPE_PATH.test(e.instancePath) && typeof value === 'string') return set.unregisteredTypeMessage(value);
      return `must be one of: ${allowed.join(', ')}${typeof value === 'string' ? didYouMean(value, allowed) : ''}`;
    }
    case 'false schema': {
      const field = CONNECTION_FIELD_PATH.exec(e.instancePath)?.[1];
      const owner = field === undefined ? undefined : set.fieldOwner(field);
      return owner === undefined ? 'is not allowed here' : `is only allowed when type is ${owner}`;
    }
    case 'pattern':
      if (params.pattern === DURATION_PATTERN) return 'must be a duration: an integer and a unit ms, s, m, h or d (e.g. "60s", "15m")';
      if (params.pattern === SIZE_PATTERN) return 'must be a size: an integer and a unit b, kb, mb or gb (e.g. "10mb")';
      return `must match the pattern ${String(params.pattern)}`;
    case 'format':
      return `must be a valid ${String(params.format)}`;
    default:
      return e.message ?? `fails the "${e.keyword}" rule`;
  }
}

/** The property names declared beside the `additionalProperties` keyword that failed. */
function allowedKeys(schema: JsonSchema, schemaPath: string): string[] {
  let node: unknown = schema;
  const parts = fromPointer(schemaPath.replace(/^#/, ''));
  for (const part of parts.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return [];
    node = (node as Record<string, unknown>)[String(part)];
  }
  const props = node !== null && typeof node === 'object' ? (node as { properties?: unknown }).properties : undefined;
  return props !== null && typeof props === 'object' ? Object.keys(props) : [];
}

/** The value at `path` in `data`, or undefined. */
function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let node = data;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[part];
  }
  return node;
}

/** `/connections/0/url` → `['connections', 0, 'url']`. */
export function fromPointer(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => {
    const part = s.replaceAll('~1', '/').replaceAll('~0', '~');
    return /^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part;
  });
}

function escape(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function lineOf(line: number | undefined): { line?: number } {
  return line === undefined ? {} : { line };
}
