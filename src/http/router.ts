import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a route handler gets: the raw request/response, path params and the parsed query. */
export interface RouteContext<S = unknown> {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly state: S;
}

export type Handler<S> = (ctx: RouteContext<S>) => Promise<void>;

interface Route<S> { method: string; pattern: string; parts: string[]; handler: Handler<S> }

/**
 * A minimal method + path router with `:param` segments. Matching is exact on the segment
 * count; params are URI-decoded.
 *
 * @example
 *   const r = new Router<State>(); r.add('GET', '/api/v1/connections/:name', async (c) => {…});
 */
export class Router<S> {
  readonly #routes: Route<S>[] = [];

  add(method: string, pattern: string, handler: Handler<S>): this {
    this.#routes.push({ method, pattern, parts: pattern.split('/').slice(1), handler });
    return this;
  }

  /** The registered `METHOD pattern` pairs (the OpenAPI test compares them with the document). */
  list(): { method: string; pattern: string }[] {
    return this.#routes.map(({ method, pattern }) => ({ method, pattern }));
  }

  /** Finds a route; `methods` lists the allowed methods when only the path matched. */
  match(method: string, path: string): { handler: Handler<S>; params: Record<string, string>; pattern: string } | { methods: string[] } | undefined {
    const segs = path.split('/').slice(1);
    const methods: string[] = [];
    for (const route of this.#routes) {
      const params = matchParts(route.parts, segs);
      if (!params) continue;
      if (route.method === method) return { handler: route.handler, params, pattern: route.pattern };
      methods.push(route.method);
    }
    return methods.length > 0 ? { methods } : undefined;
  }
}

function matchParts(parts: string[], segs: string[]): Record<string, string> | undefined {
  if (parts.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const s = segs[i]!;
    if (p.startsWith(':')) {
      if (s === '') return undefined;
      try { params[p.slice(1)] = decodeURIComponent(s); } catch { return undefined; }
    } else if (p !== s) {
      return undefined;
    }
  }
  return params;
}
