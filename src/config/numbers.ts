import { parseDuration, parseSize } from '../kernel/duration.ts';
import { DURATION_PATTERN, SIZE_PATTERN, type JsonSchema } from '../kernel/json-schema.ts';
import type { ConfigIssue } from './config-error.ts';
import { toPointer } from './interpolate.ts';
import type { Locate } from './validate.ts';

/*
 * Durations and sizes become numbers once, at load: the file keeps its human form (`15m`, `10mb`),
 * the loaded configuration holds milliseconds and bytes under a name that says so. Which
 * properties are durations or sizes is read off the schema (a property built with `duration()` or
 * `size()`, whoever declares it: the config's own sections, a protocol's listener section or
 * connection fields), so no list is kept by hand and no use site parses a string again.
 */

/** The unit a loaded value is in. */
export type Unit = 'ms' | 'bytes';

type Obj = Record<string, unknown>;
type Path = (string | number)[];
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The unit of a property declared with `duration()` (ms) or `size()` (bytes); otherwise undefined. */
export function unitOf(schema: JsonSchema): Unit | undefined {
  if (schema.pattern === DURATION_PATTERN) return 'ms';
  if (schema.pattern === SIZE_PATTERN) return 'bytes';
  return undefined;
}

/**
 * The loaded name of a duration or size property: its name with the unit appended, unless the
 * name already ends with it.
 *
 * @example loadedKey('session_idle', 'ms') === 'session_idle_ms'
 * @example loadedKey('body_limit', 'bytes') === 'body_limit_bytes'
 * @example loadedKey('max_session_bytes', 'bytes') === 'max_session_bytes'
 */
export function loadedKey(key: string, unit: Unit): string {
  return key.endsWith(`_${unit}`) ? key : `${key}_${unit}`;
}

/** The number a written duration or size stands for (undefined: not one). */
export function unitValue(text: string, unit: Unit): number | undefined {
  return unit === 'ms' ? parseDuration(text) : parseSize(text);
}

type Visit = (holder: Obj, key: string, unit: Unit, path: Path) => void;

/** Calls `visit` for each duration or size property present in `value`, walking `schema` beside it. */
function eachUnit(value: unknown, schema: JsonSchema, path: Path, visit: Visit): void {
  if (Array.isArray(value)) {
    const items = schema.items;
    if (isObj(items)) value.forEach((v, i) => { eachUnit(v, items, [...path, i], visit); });
    return;
  }
  const props = schema.properties;
  if (!isObj(value) || !isObj(props)) return;
  for (const [key, sub] of Object.entries(props)) {
    if (!isObj(sub) || !Object.hasOwn(value, key)) continue;
    const unit = unitOf(sub);
    if (unit === undefined) eachUnit(value[key], sub, [...path, key], visit);
    else visit(value, key, unit, [...path, key]);
  }
}

/**
 * Load-time check of the durations and sizes in a validated document: each must fit a safe
 * integer of its unit (the schema's pattern admits any number of digits). Reads defensively: a
 * value the schema refused is left to its message.
 */
export function unitIssues(doc: unknown, schema: JsonSchema, locate: Locate): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  eachUnit(doc, schema, [], (holder, key, unit, path) => {
    const text = holder[key];
    const n = typeof text === 'string' ? unitValue(text, unit) : undefined;
    if (n === undefined || Number.isSafeInteger(n)) return;
    const line = locate(path);
    issues.push({ path: toPointer(path), message: `is too large (at most ${Number.MAX_SAFE_INTEGER} ${unit === 'ms' ? 'milliseconds' : 'bytes'})`, ...(line === undefined ? {} : { line }) });
  });
  return issues;
}

/**
 * Replaces, in place, each duration and size of a valid document by its number under its loaded
 * name (`session_idle: '15m'` → `session_idle_ms: 900000`). Throws on a value the schema should
 * have refused.
 */
export function toNumbers(doc: Obj, schema: JsonSchema): void {
  eachUnit(doc, schema, [], (holder, key, unit, path) => {
    const text = holder[key];
    const n = typeof text === 'string' ? unitValue(text, unit) : undefined;
    if (n === undefined || !Number.isSafeInteger(n)) throw new TypeError(`${toPointer(path)} is not a valid ${unit === 'ms' ? 'duration' : 'size'}`);
    const name = loadedKey(key, unit);
    if (name !== key) {
      if (Object.hasOwn(holder, name)) throw new TypeError(`${toPointer(path)}: its loaded name ${name} is taken`);
      Reflect.deleteProperty(holder, key);
    }
    holder[name] = n;
  });
}
