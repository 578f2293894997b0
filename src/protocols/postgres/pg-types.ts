/**
 * What the row masker knows about a PostgreSQL type: how its **binary** format is read.
 * A type is classified by its binary send function (`pg_type.typsend`), which is what defines
 * the bytes on the wire, so domains, enums and extension types (citext's send function is the
 * builtin `textsend`) fall into the right class without being listed.
 *
 * - `text`: the bytes are the text (UTF-8);
 * - `versioned`: a version byte (1) then the text (jsonb, jsonpath);
 * - `bytea`: raw bytes;
 * - `number`: an integer, numeric, float or money value (rendered to decimal digits to be scanned:
 *   an `int8` or `numeric` can hold a card number, an `int4` a 9-digit SSN);
 * - `render`: a fixed-layout value rendered to its text (uuid, inet, macaddr, bit strings, tid, lsn);
 * - `array`, `record`, `range`, `hstore`, `tsvector`: containers, read element by element;
 * - `inert`: proven unable to carry a value any detector matches: `bool` (one byte), `int2`
 *   (at most 5 digits: shorter than every numeric entity) and the date/time types, whose
 *   rendering is a fixed date/time layout;
 * - `unknown`: not readable; where masking applies the statement fails (never passes unread).
 */
export type TypeKind =
  | { readonly kind: 'text' | 'versioned' | 'bytea' | 'array' | 'record' | 'hstore' | 'tsvector' | 'inert' | 'unknown'; readonly json?: boolean }
  | { readonly kind: 'number'; readonly codec: NumberCodec }
  | { readonly kind: 'render'; readonly codec: RenderCodec }
  | { readonly kind: 'range'; readonly subtype: number };

/** Binary numeric layouts. */
export type NumberCodec = 'int4' | 'int8' | 'uint32' | 'uint64' | 'float4' | 'float8' | 'numeric' | 'money';
/** Binary fixed layouts rendered to text. */
export type RenderCodec = 'uuid' | 'inet' | 'macaddr' | 'bits' | 'tid' | 'lsn';

const K = (kind: 'text' | 'versioned' | 'bytea' | 'array' | 'record' | 'hstore' | 'tsvector' | 'inert' | 'unknown'): TypeKind => ({ kind });
const N = (codec: NumberCodec): TypeKind => ({ kind: 'number', codec });
const R = (codec: RenderCodec): TypeKind => ({ kind: 'render', codec });

/** Builtin send functions (language internal) → kind. */
const BY_SEND: ReadonlyMap<string, TypeKind> = new Map<string, TypeKind>([
  ...['textsend', 'namesend', 'bpcharsend', 'varcharsend', 'unknownsend', 'xml_send', 'enum_send',
    'pg_node_tree_send', 'charsend', 'cstring_send'].map((s) => [s, K('text')] as const),
  ['json_send', { kind: 'text', json: true }], ['jsonb_send', { kind: 'versioned', json: true }], ['jsonpath_send', K('versioned')], ['byteasend', K('bytea')],
  ...['boolsend', 'int2send', 'date_send', 'time_send', 'timetz_send', 'timestamp_send', 'timestamptz_send', 'interval_send'].map((s) => [s, K('inert')] as const),
  ['int4send', N('int4')], ['int8send', N('int8')], ['float4send', N('float4')], ['float8send', N('float8')],
  ['numeric_send', N('numeric')], ['cash_send', N('money')], ['xid8send', N('uint64')],
  ...['oidsend', 'xidsend', 'cidsend', 'regprocsend', 'regproceduresend', 'regopersend', 'regoperatorsend', 'regclasssend',
    'regtypesend', 'regconfigsend', 'regdictionarysend', 'regnamespacesend', 'regrolesend', 'regcollationsend'].map((s) => [s, N('uint32')] as const),
  ['uuid_send', R('uuid')], ['inet_send', R('inet')], ['cidr_send', R('inet')], ['macaddr_send', R('macaddr')],
  ['macaddr8_send', R('macaddr')], ['bit_send', R('bits')], ['varbit_send', R('bits')], ['tidsend', R('tid')], ['pg_lsn_send', R('lsn')],
  ['array_send', K('array')], ['int2vectorsend', K('array')], ['oidvectorsend', K('array')], ['record_send', K('record')],
  ['tsvectorsend', K('tsvector')],
]);

/** Builtin type OIDs (stable across PostgreSQL versions) → their send function. */
const BUILTIN_SEND: ReadonlyMap<number, string> = new Map([
  [16, 'boolsend'], [17, 'byteasend'], [18, 'charsend'], [19, 'namesend'], [20, 'int8send'], [21, 'int2send'],
  [22, 'int2vectorsend'], [23, 'int4send'], [24, 'regprocsend'], [25, 'textsend'], [26, 'oidsend'], [27, 'tidsend'],
  [28, 'xidsend'], [29, 'cidsend'], [30, 'oidvectorsend'], [114, 'json_send'], [142, 'xml_send'], [194, 'pg_node_tree_send'],
  [650, 'cidr_send'], [700, 'float4send'], [701, 'float8send'], [705, 'unknownsend'], [774, 'macaddr8_send'],
  [790, 'cash_send'], [829, 'macaddr_send'], [869, 'inet_send'], [1042, 'bpcharsend'], [1043, 'varcharsend'],
  [1082, 'date_send'], [1083, 'time_send'], [1114, 'timestamp_send'], [1184, 'timestamptz_send'], [1186, 'interval_send'],
  [1266, 'timetz_send'], [1560, 'bit_send'], [1562, 'varbit_send'], [1700, 'numeric_send'], [1790, 'textsend'],
  [2202, 'regproceduresend'], [2203, 'regopersend'], [2204, 'regoperatorsend'], [2205, 'regclasssend'], [2206, 'regtypesend'],
  [2249, 'record_send'], [2275, 'cstring_send'], [2950, 'uuid_send'], [3220, 'pg_lsn_send'], [3614, 'tsvectorsend'],
  [3734, 'regconfigsend'], [3769, 'regdictionarysend'], [3802, 'jsonb_send'], [4072, 'jsonpath_send'],
  [4089, 'regnamespacesend'], [4096, 'regrolesend'], [4191, 'regcollationsend'], [5069, 'xid8send'],
]);

/** Builtin array type OIDs (the element OID is in every binary array's header). */
const BUILTIN_ARRAYS: readonly number[] = [
  143, 199, 271, 629, 651, 719, 775, 791, 1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
  1014, 1015, 1016, 1017, 1018, 1019, 1020, 1021, 1022, 1027, 1028, 1034, 1040, 1041, 1115, 1182, 1183, 1185, 1187,
  1231, 1263, 1270, 1561, 1563, 2201, 2207, 2208, 2209, 2210, 2211, 2287, 2949, 2951, 3221, 3643, 3645, 3735, 3770,
  3807, 3905, 3907, 3909, 3911, 3913, 3927, 4073, 4090, 4097, 4192, 5039, 5077,
];

/** Builtin range types → subtype. */
const BUILTIN_RANGES: ReadonlyMap<number, number> = new Map([[3904, 23], [3906, 1700], [3908, 1114], [3910, 1184], [3912, 1082], [3926, 20]]);

/** Builtin arrays of numbers (text format: an element that carries an entity becomes NULL). */
export const NUMBER_ARRAYS: ReadonlySet<number> = new Set([1007, 1016, 1021, 1022, 1231, 1028, 791]);

/** The kind of a builtin type OID, or undefined when the catalog must be asked. */
export function builtinKind(oid: number): TypeKind | undefined {
  const send = BUILTIN_SEND.get(oid);
  if (send !== undefined) return BY_SEND.get(send);
  if (BUILTIN_ARRAYS.includes(oid)) return K('array');
  const sub = BUILTIN_RANGES.get(oid);
  return sub === undefined ? undefined : { kind: 'range', subtype: sub };
}

/** A `pg_type` row as the catalog returns it (see `CatalogResolver.types`). */
export interface TypeRow {
  /** `pg_proc.prosrc` of `typsend` (the C symbol for internal/C functions). */
  readonly sendSrc: string;
  /** True when the send function is a builtin (`prolang` internal). */
  readonly internal: boolean;
  /** `pg_proc.probin` of `typsend` (the extension library of a C function). */
  readonly library: string | null;
  /** `pg_range.rngsubtype` for a range type. */
  readonly rangeSubtype: number | null;
}

/** The kind of a type from its catalog row: only builtin send functions (and hstore's) are trusted. */
export function kindFromCatalog(row: TypeRow | undefined): TypeKind {
  if (!row) return K('unknown');
  if (row.internal) {
    if (row.sendSrc === 'range_send' && row.rangeSubtype !== null) return { kind: 'range', subtype: row.rangeSubtype };
    return BY_SEND.get(row.sendSrc) ?? K('unknown');
  }
  if (row.sendSrc === 'hstore_send' && row.library === '$libdir/hstore') return K('hstore');
  return K('unknown');
}
