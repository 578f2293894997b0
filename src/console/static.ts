import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';

/** The console's front end: plain files in `web/console`, served as they are (no build step). */
export const WEB_ROOT = fileURLToPath(new URL('../../web/console/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

/**
 * Files of npm packages the console serves as they are (no build step), by the asset name the
 * pages load: the terminal player (asciinema-player's self-contained bundle and its stylesheet).
 */
export const VENDOR_ASSETS: Readonly<Record<string, string>> = {
  'asciinema-player.js': 'asciinema-player/dist/bundle/asciinema-player.min.js',
  'asciinema-player.css': 'asciinema-player/dist/bundle/asciinema-player.css',
};

/**
 * The Content-Security-Policy of every console response: only this origin's scripts, styles,
 * images and API; no inline script or style, no plugins, no framing, no foreign form targets.
 * `'wasm-unsafe-eval'` lets a script of this origin compile WebAssembly (the terminal player's
 * terminal emulator is WebAssembly); it allows no JavaScript eval and no inline script.
 */
export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "font-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'", "object-src 'none'",
].join('; ');

/** Security headers common to every console response (pages, assets, sign-in answers). */
export function consoleHeaders(tls: boolean): Record<string, string> {
  return {
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    ...(tls ? { 'strict-transport-security': 'max-age=31536000' } : {}),
  };
}

interface Asset { readonly body: Buffer; readonly type: string; readonly etag: string }

/**
 * The front-end files, read once at start (a few dozen KB, plus the player's ~250 KB): only names
 * that exist in `web/console` at start, and the fixed vendor names above (resolved in
 * node_modules at start), are ever served, so no request path reaches the file system.
 */
export class ConsoleAssets {
  readonly #files = new Map<string, Asset>();

  constructor(root = WEB_ROOT, vendor: Readonly<Record<string, string>> = VENDOR_ASSETS) {
    for (const name of readdirSync(root)) {
      const type = TYPES[extname(name)];
      const path = join(root, name);
      if (type === undefined || !statSync(path).isFile()) continue;
      const body = readFileSync(path);
      this.#files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
    if (!this.#files.has('index.html')) throw new Error(`console front end missing: ${root}index.html`);
    const require = createRequire(import.meta.url);
    for (const [name, specifier] of Object.entries(vendor)) {
      const type = TYPES[extname(name)];
      if (type === undefined || this.#files.has(name)) throw new Error(`bad vendor asset name ${name}`);
      const body = readFileSync(require.resolve(specifier));
      this.#files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
  }

  /** Serves `name` (a bare file name) or returns false when there is no such asset. */
  serve(name: string, res: ServerResponse, headers: Record<string, string>, ifNoneMatch: string | undefined, head = false): boolean {
    const a = this.#files.get(name);
    if (!a) return false;
    const common = { ...headers, 'content-type': a.type, etag: a.etag, 'cache-control': name === 'index.html' ? 'no-store' : 'no-cache' };
    if (ifNoneMatch === a.etag) {
      res.writeHead(304, common);
      res.end();
      return true;
    }
    res.writeHead(200, { ...common, 'content-length': String(a.body.length) });
    res.end(head ? undefined : a.body);
    return true;
  }
}
