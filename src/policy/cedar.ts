/**
 * The one door to `@cedar-policy/cedar-wasm`: the published schema, its one-time preparse, and
 * helpers that turn Cedar's diagnostics (byte offsets) into `file:line:column` issues.
 * Nothing else in Gatehouse imports the wasm module directly.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { DetailedError } from '@cedar-policy/cedar-wasm/nodejs';
import { fileURLToPath } from 'node:url';
import { cedarSchemaFor } from './cedar-schema.ts';

export { cedar };
export type {
  AuthorizationAnswer, CedarValueJson, Context as CedarContext, DetailedError, EntityJson, EntityUidJson, PolicyJson,
} from '@cedar-policy/cedar-wasm/nodejs';

/**
 * Absolute path of the published Cedar schema (human format) shipped beside this module: the text
 * of {@link cedarSchemaText}, written by scripts/gen-cedar-schema.ts (a test keeps it in sync).
 */
export const CEDAR_SCHEMA_PATH = fileURLToPath(new URL('./schema.cedarschema', import.meta.url));

/** Name under which the schema is preparsed in the wasm module's cache. */
export const SCHEMA_NAME = 'gatehouse';

let schemaText: string | undefined;
let schemaPreparsed = false;

/**
 * The schema text of the registered protocols, built once (see cedar-schema.ts).
 * @example validate({ schema: cedarSchemaText(), policies })
 */
export function cedarSchemaText(): string {
  schemaText ??= cedarSchemaFor();
  return schemaText;
}

/** Preparses the schema once (for request validation on the hot path). Throws if it is invalid. */
export function ensureSchemaPreparsed(): void {
  if (schemaPreparsed) return;
  const res = cedar.preparseSchema(SCHEMA_NAME, cedarSchemaText());
  if (res.type === 'failure') throw new Error(`Cedar schema is invalid: ${res.errors.map((e) => e.message).join('; ')}`);
  schemaPreparsed = true;
}

/** One problem found while loading policies or review rules. `line`/`column` are 1-based. */
export interface PolicyLoadIssue {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

/** A text whose Cedar byte offsets can be mapped to line and column (UTF-8 aware). */
export class SourceText {
  readonly text: string;
  readonly #bytes: Buffer;

  constructor(text: string) {
    this.text = text;
    this.#bytes = Buffer.from(text, 'utf8');
  }

  /** Byte offset of the JS string index `index`. */
  byteOffset(index: number): number {
    return Buffer.byteLength(this.text.slice(0, index), 'utf8');
  }

  /** 1-based line and column (in UTF-16 code units, as editors count) of a UTF-8 byte offset. */
  position(byteOffset: number): { line: number; column: number } {
    const before = this.#bytes.subarray(0, Math.max(0, Math.min(byteOffset, this.#bytes.length))).toString('utf8');
    const nl = before.lastIndexOf('\n');
    const line = before.split('\n').length;
    return { line, column: before.length - nl };
  }
}

/**
 * Turns Cedar's `DetailedError`s into issues. `base` is the byte offset in `src` of the text
 * Cedar saw (0 when Cedar parsed the whole file).
 */
export function issuesFromCedar(file: string, errors: readonly DetailedError[], src?: SourceText, base = 0): PolicyLoadIssue[] {
  return errors.map((e) => issueFromCedar(file, e, src, base));
}

/** One Cedar error as an issue; the help text, when any, is appended to the message. */
export function issueFromCedar(file: string, e: DetailedError, src?: SourceText, base = 0): PolicyLoadIssue {
  const loc = e.sourceLocations?.[0];
  const hint = [loc?.label, e.help].filter((h): h is string => typeof h === 'string' && h !== '');
  const message = hint.length > 0 ? `${e.message} (${hint.join('; ')})` : e.message;
  if (!src || !loc) return { file, message };
  return { file, ...src.position(base + loc.start), message };
}

/** `file:line:column: message` (the form editors and `gatehouse policy check` print). */
export function formatIssue(i: PolicyLoadIssue): string {
  const where = i.line === undefined ? i.file : `${i.file}:${i.line}:${i.column ?? 1}`;
  return `${where}: ${i.message}`;
}
