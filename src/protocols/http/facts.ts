/** The facts of a request on an llm or http connection (`context.llm`, `context.http`). */

/** Facts extracted from an LLM request (inspect/prompt). Types and counts, never values. */
export interface LlmFacts {
  readonly provider: string;
  /**
   * The request method, upper-case (`context.llm.method`; "POST" when absent): an LLM API has
   * endpoints that delete (`DELETE /v1/files/<id>`, `/v1/models/<fine-tuned>`) under the same path
   * as the read.
   */
  readonly method?: string;
  readonly endpoint: string;
  readonly model: string;
  readonly stream: boolean;
  readonly tools: readonly string[];
  readonly secret_types: readonly string[];
  readonly pii_types: readonly string[];
  readonly findings: number;
  /** Binary payloads (data: URLs, base64 sources that are not text); absent means none. */
  readonly attachments?: number;
  /** Their declared media types (`application/octet-stream` when undeclared), sorted. */
  readonly attachment_types?: readonly string[];
  /** Their total decoded size in bytes. */
  readonly attachment_bytes?: number;
}

/**
 * Facts of a request on an `http` connection. `path` is the normalized path that is forwarded
 * (see `http/path-normalize.ts`); `path_lower` the same, lower-cased, for rules
 * that must hold whatever the case (derived from `path` when absent).
 */
export interface HttpFacts { readonly method: string; readonly path: string; readonly path_lower?: string }
