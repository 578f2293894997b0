/**
 * Small builders for the configuration's JSON Schema (config/schema.ts and the protocol modules'
 * declarations), so every property carries its description,
 * its default (declared once, here in the schema) and, for durations and sizes, its unit pattern.
 */

/** A JSON Schema node. Kept structural: the schema is plain data, published as JSON. */
export type JsonSchema = { readonly [key: string]: unknown };

declare const VALUE: unique symbol;
/**
 * A JSON Schema node that also says, for TypeScript only, the type of a value it accepts (`T`):
 * the builders below return it, so a type derived from declarations (a protocol's own connection
 * fields, see `ConnectionFields` in src/protocols/registry.ts) needs no hand-written copy. The
 * marker is a type-level phantom: nothing is added to the data.
 */
export type Schema<T> = JsonSchema & { readonly [VALUE]?: T };

/** The TypeScript type of the values `S` accepts (`unknown` for a node without one). */
export type ValueOf<S> = S extends { readonly [VALUE]?: infer T } ? T : unknown;

/** Durations: an integer and a unit — `500ms`, `60s`, `15m`, `8h`, `90d` (see kernel/duration.ts). */
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$';
/** Sizes: an integer and a unit — `100b`, `512kb`, `10mb`, `1gb`, any letter case (kernel/duration.ts). */
export const SIZE_PATTERN = '^[0-9]+([bB]|[kK][bB]|[mM][bB]|[gG][bB])$';

type Extra = Readonly<Record<string, unknown>>;

/** A closed object: unknown keys are rejected. `default: {}` lets nested defaults apply. */
export function obj(description: string, properties: Record<string, JsonSchema>, extra: Extra = {}): JsonSchema {
  return { type: 'object', description, additionalProperties: false, properties, ...extra };
}

/** A string property. */
export function str(description: string, extra: Extra = {}): Schema<string> {
  return { type: 'string', description, ...extra };
}

/**
 * The `format` of a file path (a custom format: the configuration's validator accepts any string
 * for it). A relative path is resolved against the configuration file's directory at load
 * (config/finalize.ts), for any protocol's listener section or connection field declaring it.
 */
export const PATH_FORMAT = 'path';

/** A file path, relative to the configuration file (absolute after load). */
export function path(description: string, extra: Extra = {}): Schema<string> {
  return str(description, { format: PATH_FORMAT, ...extra });
}

/** A boolean property with its default. */
export function bool(description: string, def: boolean): Schema<boolean> {
  return { type: 'boolean', description, default: def };
}

/** A duration string (`60s`, `15m`, …) with its default, when it has one. */
export function duration(description: string, def?: string): Schema<string> {
  return {
    type: 'string',
    description: `${description} Duration: an integer with a unit ms, s, m, h or d (e.g. "60s", "15m").`,
    pattern: DURATION_PATTERN,
    ...(def === undefined ? {} : { default: def }),
  };
}

/** A size string (`10mb`, …) with its default. */
export function size(description: string, def: string): Schema<string> {
  return {
    type: 'string',
    description: `${description} Size: an integer with a unit b, kb, mb or gb (e.g. "10mb"; 1kb = 1024 bytes).`,
    pattern: SIZE_PATTERN,
    default: def,
  };
}

/** One of a fixed list of strings. */
export function oneOf<const V extends readonly string[]>(description: string, values: V, def?: V[number]): Schema<V[number]> {
  return { type: 'string', description, enum: [...values], ...(def === undefined ? {} : { default: def }) };
}

/** An array of `items`. */
export function list<T = unknown>(description: string, items: Schema<T>, extra: Extra = {}): Schema<readonly T[]> {
  return { type: 'array', description, items, ...extra };
}

/** A `host:port` listen address (IPv6 hosts in brackets). */
export function listen(description: string, def: string): Schema<string> {
  return str(`${description} Form: "host:port" (IPv6 as "[::1]:8080").`, {
    pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$',
    default: def,
  });
}
