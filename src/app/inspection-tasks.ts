import type { ConnectionFields, ConnectionType } from '../protocols/registry.ts';
import type { MaskingRuleConfig } from '../config/types.ts';
import type { SqlInspection } from '../inspect/sql/types.ts';
import type { Facts } from '../policy/request.ts';
import type { WireFormat } from '../protocols/http/providers/index.ts';
import type { CommandInspection } from '../shell/inspector.ts';

/** What every inspection worker is started with (structured-cloned; no secrets but the hash key). */
export interface InspectionWorkerData {
  readonly maxSqlBytes: number;
  readonly maxStatements: number;
  /** `masking.rules`, to build the same egress maskers as the main thread. */
  readonly maskingRules: readonly MaskingRuleConfig[];
  /** The masking hash key (the main thread's, so `hash` gives equal digests). */
  readonly hashKey: Uint8Array;
}

/** One task for an inspection worker. */
export type InspectionTask =
  | { readonly kind: 'sql'; readonly sql: string }
  /** A shell command (SSH exec): tree-sitter-bash can take hundreds of ms on a few hundred bytes. */
  | { readonly kind: 'shell'; readonly command: string }
  | {
    readonly kind: 'prepare';
    /** The connection's name, type and its type's own fields (`provider`, `pass_media_types`). */
    readonly conn: { readonly name: string; readonly type: ConnectionType } & ConnectionFields;
    readonly method: string;
    readonly endpoint: string;
    readonly raw: Uint8Array;
    readonly contentType: string;
    readonly contentEncoding?: string | string[] | undefined;
    readonly bodyLimit?: number;
    readonly format: WireFormat | undefined;
    /** Whether the connection has a request-direction masking rule (egress redaction). */
    readonly egress: boolean;
  }
  | {
    readonly kind: 'mask';
    /** `llm-json`: an LLM JSON response (fail-closed walk, usage read); `json` / `form`: an http response body. */
    readonly op: ResponseMaskOp;
    readonly text: string;
    readonly connection: string;
    /** The echo forms of the connection's vaulted secrets (always redacted, as on the main thread). */
    readonly forms: readonly string[];
  };

/** A buffered response body masked on a worker. */
export type ResponseMaskOp = 'llm-json' | 'json' | 'form';

/** A worker's answer to a `mask` task. */
export interface MaskedReply {
  readonly text: string;
  readonly usage?: unknown;
}

/** A worker's answer to a `prepare` task (see protocols/http/proxy/prepare.ts). */
export interface PreparedReply {
  readonly facts: Facts;
  readonly body: Uint8Array | undefined;
  readonly prompt?: string;
  /** True when `prompt` is exactly `body` as UTF-8 text: it is then not sent (half the copying). */
  readonly promptIsBody: boolean;
  readonly contentType?: string;
  readonly decoded?: boolean;
}

/** A worker's answer to a task of each kind. */
export type InspectionResult = SqlInspection | PreparedReply | MaskedReply | CommandInspection;
