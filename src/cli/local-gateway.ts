import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { findConfigPath } from '../config/find-config.ts';
import type { Io } from './args.ts';

/** Largest configuration file this quick reader looks at (the loader's own limit is larger). */
const MAX_BYTES = 1024 * 1024;
const DEFAULT_LISTEN = '127.0.0.1:8080';
const DEFAULT_STORE = './.gatehouse';
const MEMORY_STORE_PATH = ':memory:';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Where the local configuration says the gateway listens and keeps its bootstrap admin key, for
 * the API commands' defaults. It reads only the few keys it needs (server.http.listen,
 * server.public_url, server.tls, store) without the full loader (JSON Schema, RE2…), so an API
 * command starts in a fraction of the time; `${VAR}` and `${VAR:-default}` are resolved. Anything
 * it cannot read gives the defaults (`http://127.0.0.1:8080`, `./.gatehouse/admin.key`): the
 * gateway itself validates the file.
 *
 * @example localGateway(io) // { url: 'http://127.0.0.1:8080', keyFile: '/repo/.gatehouse/admin.key' }
 */
export function localGateway(io: Io): { url: string; keyFile: string } {
  const fallback = { url: `http://${DEFAULT_LISTEN}`, keyFile: join(resolve(io.cwd, '.gatehouse'), 'admin.key') };
  try {
    const path = findConfigPath(io.env, io.cwd);
    const doc: unknown = parse(readBounded(path));
    const server = isObj(doc) && isObj(doc.server) ? doc.server : {};
    const store = isObj(doc) && isObj(doc.store) ? doc.store : {};
    const text = (v: unknown, def: string): string => (typeof v === 'string' ? interpolate(v, io.env) : def);
    const http = isObj(server.http) ? server.http : {};
    const listen = text(http.listen, DEFAULT_LISTEN).replace(/^(0\.0\.0\.0|\[::\]):/, '127.0.0.1:');
    const publicUrl = typeof server.public_url === 'string' ? interpolate(server.public_url, io.env) : undefined;
    const url = publicUrl ?? `${server.tls === undefined ? 'http' : 'https'}://${listen}`;
    const embedded = isObj(store.embedded) ? store.embedded : {};
    const dir = text(embedded.path, DEFAULT_STORE);
    const keyFile = store.postgres !== undefined || dir === MEMORY_STORE_PATH
      ? fallback.keyFile
      : join(isAbsolute(dir) ? dir : resolve(dirname(path), dir), 'admin.key');
    return { url: url.replace(/\/+$/, ''), keyFile };
  } catch {
    return fallback;
  }
}

function readBounded(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_BYTES) throw new Error('configuration file too large');
    const buf = Buffer.alloc(size);
    const n = readSync(fd, buf, 0, size, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** `${VAR}` and `${VAR:-default}`; anything else with `${` (e.g. `${file:…}`) is not guessed at. */
function interpolate(value: string, env: Readonly<Record<string, string | undefined>>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (def !== undefined) return def;
    throw new Error(`${name} is not set`);
  });
}
