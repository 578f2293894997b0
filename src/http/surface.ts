import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * One HTTP surface of the listener (`/proxy`, `/api/v1`, `/mcp`, the identity endpoints, …). The
 * composition root mounts an explicit list of them; the listener asks each in order.
 *
 * @example
 *   const health: HttpSurface = { name: 'health', serve: async (req, res, path) => path === '/healthz' ? (sendJson(res, 200, { status: 'ok' }), path) : undefined };
 */
export interface HttpSurface {
  readonly name: string;
  /**
   * When set, a request whose raw target starts with it is this surface's, served before the
   * target is parsed as a URL (the data path parses its own raw target); `url` is then undefined.
   */
  readonly rawPrefix?: string;
  /**
   * Serves the request if `path` is this surface's: resolves the route label for metrics, or
   * undefined to let the next surface try. Errors are thrown (problem+json by the listener).
   */
  serve(req: IncomingMessage, res: ServerResponse, path: string, url: URL | undefined): Promise<string | undefined>;
}
