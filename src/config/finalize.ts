import { isAbsolute, resolve } from 'node:path';
import { deepFreeze } from '../kernel/freeze.ts';
import { Secret } from '../kernel/secret.ts';
import { REGISTRY } from '../protocols/registry.ts';
import type { GatehouseConfig } from './types.ts';

/** Value of `store.embedded.path` meaning "in memory"; never resolved as a path. */
export const MEMORY_STORE_PATH = ':memory:';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Turns a validated, defaulted document into the runtime config: relative paths resolved against
 * `baseDir`, secrets wrapped in `Secret`, everything deeply frozen. Mutates `doc` (a private copy).
 */
export function finalizeConfig(doc: Obj, baseDir: string): GatehouseConfig {
  const abs = (p: unknown): unknown => (typeof p === 'string' && !isAbsolute(p) ? resolve(baseDir, p) : p);
  const wrap = (v: unknown): unknown => (typeof v === 'string' ? new Secret(v) : v);

  const policies = doc.policies;
  if (isObj(policies) && Array.isArray(policies.files)) policies.files = policies.files.map(abs);

  const server = doc.server;
  if (isObj(server) && isObj(server.tls)) {
    server.tls.cert = abs(server.tls.cert);
    server.tls.key = abs(server.tls.key);
  }
  if (isObj(server) && isObj(server.ssh) && server.ssh.host_key !== undefined) server.ssh.host_key = abs(server.ssh.host_key);

  if (isObj(server) && isObj(server.metrics) && server.metrics.token !== undefined) server.metrics.token = wrap(server.metrics.token);
  // Each protocol listener's section, as the protocol reads it (`server.<name>`).
  for (const { name, listener } of REGISTRY.listeners()) {
    if (isObj(server) && isObj(server[name])) server[name] = listener.load(server[name]);
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

