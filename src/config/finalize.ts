import { isAbsolute, resolve } from 'node:path';
import { deepFreeze } from '../kernel/freeze.ts';
import { Secret } from '../kernel/secret.ts';
import { PATH_FORMAT, type JsonSchema } from '../kernel/json-schema.ts';
import { REGISTRY, type ProtocolSet } from '../protocols/registry.ts';
import { toNumbers } from './numbers.ts';
import { schemaFor } from './schema.ts';
import type { GatehouseConfig } from './types.ts';

/** Value of `store.embedded.path` meaning "in memory"; never resolved as a path. */
export const MEMORY_STORE_PATH = ':memory:';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Resolves, in `values`, each property whose schema in `props` is a path (`format: 'path'`, or a
 * list of them) with `abs`: the settings a protocol declares as files, whatever their name.
 */
function resolveDeclaredPaths(values: Obj, props: Readonly<Record<string, JsonSchema>>, abs: (p: unknown) => unknown): void {
  const isPath = (s: unknown): boolean => isObj(s) && s.format === PATH_FORMAT;
  for (const [key, schema] of Object.entries(props)) {
    const v = values[key];
    if (v === undefined) continue;
    if (isPath(schema)) values[key] = abs(v);
    else if (isPath(schema.items) && Array.isArray(v)) values[key] = v.map(abs);
  }
}

/**
 * Turns a validated, defaulted document into the runtime config: every duration and size a number
 * under its loaded name (`x_ms`, `x_bytes`: numbers.ts), relative paths resolved against
 * `baseDir` (those of the protocols' listener sections and connection fields too, when their
 * declaration marks them `format: 'path'`), secrets wrapped in `Secret`, everything deeply frozen.
 * Mutates `doc` (a private copy). `set`: the protocols (the gateway's, or a test's).
 */
export function finalizeConfig(doc: Obj, baseDir: string, set: ProtocolSet = REGISTRY): GatehouseConfig {
  const abs = (p: unknown): unknown => (typeof p === 'string' && !isAbsolute(p) ? resolve(baseDir, p) : p);
  const wrap = (v: unknown): unknown => (typeof v === 'string' ? new Secret(v) : v);
  toNumbers(doc, schemaFor(set));

  const policies = doc.policies;
  if (isObj(policies) && Array.isArray(policies.files)) policies.files = policies.files.map(abs);

  const server = doc.server;
  if (isObj(server) && isObj(server.tls)) {
    server.tls.cert = abs(server.tls.cert);
    server.tls.key = abs(server.tls.key);
  }

  if (isObj(server) && isObj(server.metrics) && server.metrics.token !== undefined) server.metrics.token = wrap(server.metrics.token);
  // Each protocol listener's section, its paths resolved, as the protocol reads it (`server.<name>`).
  for (const { name, listener } of set.listeners()) {
    const section = isObj(server) ? server[name] : undefined;
    if (!isObj(section) || !isObj(server)) continue;
    resolveDeclaredPaths(section, listener.config, abs);
    server[name] = listener.load(section);
  }

  const identity = doc.identity;
  if (isObj(identity) && isObj(identity.saml) && identity.saml.idp_metadata !== undefined) identity.saml.idp_metadata = abs(identity.saml.idp_metadata);

  const store = doc.store;
  if (isObj(store) && isObj(store.embedded) && store.embedded.path !== MEMORY_STORE_PATH) {
    store.embedded.path = abs(store.embedded.path);
  }
  if (isObj(store) && isObj(store.postgres) && store.postgres.password !== undefined) {
    store.postgres.password = wrap(store.postgres.password);
  }

  for (const conn of Array.isArray(doc.connections) ? doc.connections : []) {
    const fields = isObj(conn) && typeof conn.type === 'string' ? set.connectionType(conn.type)?.fields : undefined;
    if (isObj(conn) && fields) resolveDeclaredPaths(conn, fields, abs);
    if (isObj(conn) && isObj(conn.credentials)) {
      const creds = conn.credentials;
      for (const key of Object.keys(creds)) creds[key] = wrap(creds[key]);
    }
  }

  const masking = doc.masking;
  if (isObj(masking) && masking.hash_key !== undefined) masking.hash_key = wrap(masking.hash_key);

  const notifications = doc.notifications;
  for (const hook of isObj(notifications) && Array.isArray(notifications.webhooks) ? notifications.webhooks : []) {
    if (isObj(hook) && hook.secret !== undefined) hook.secret = wrap(hook.secret);
  }

  return deepFreeze(doc) as unknown as GatehouseConfig;
}

