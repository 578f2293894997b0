import type { Principal } from '../identity/principal.ts';

/** One request for the `/proxy` data path, made in process on behalf of an authenticated principal. */
export interface ExchangeRequest {
  readonly connection: string;
  readonly method: string;
  /** Path below the connection, with its query (`/v1/chat/completions`). */
  readonly endpoint: string;
  readonly body?: Buffer;
  readonly contentType?: string;
  /** `Gatehouse-Justification`: shown to approvers when the request is held for review. */
  readonly justification?: string;
  /** The recording session the exchange belongs to (`Gatehouse-Session`). */
  readonly session: string;
  /**
   * The caller holds `session` in the session table (an MCP tool call, the `exchange`-th of its
   * session): the exchange records into it with that number instead of resolving it again, and
   * tells `recorded` the characters it recorded (for the session's size estimate).
   */
  readonly held?: { readonly exchange: number; readonly recorded: (chars: number) => void };
  /** `User-Agent` the exchange carries (e.g. `gatehouse-mcp`). */
  readonly userAgent: string;
  readonly signal: AbortSignal;
}

/** What the data path answered, bounded. */
export interface ExchangeAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/**
 * The `/proxy` exchange called in process (MCP's `call_llm` and `http_request`): the same facts,
 * decision, egress redaction, review hold, upstream call, response masking and recording as a
 * request to `/proxy`, for `principal` — authenticated by the caller's own surface, so there is
 * no second authentication and no socket hop. A refusal of the gateway is thrown as the
 * GatehouseError `/proxy` would answer (code, detail, `review_id`); an upstream answer, whatever
 * its status, is returned (its body up to the implementation's bound).
 *
 * @example const a = await svc.proxyExchange.exchange(principal, { connection: 'openai', method: 'POST', endpoint: '/v1/chat/completions', body, session, userAgent: 'gatehouse-mcp', signal });
 */
export interface ProxyExchange {
  exchange(principal: Principal, request: ExchangeRequest): Promise<ExchangeAnswer>;
}
