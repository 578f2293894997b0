import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { startGateway, type Gateway } from '../../src/app/gateway.ts';
import { REGISTRY } from '../../src/protocols/registry.ts';
import { createLogger, type Logger } from '../../src/kernel/log.ts';
import type { Clock } from '../../src/kernel/clock.ts';
import type { Recorder } from '../../src/recording/recorder.ts';

/** Default policies for tests: admins administer; developers read; agents never write. */
export const TEST_POLICIES = `
@id("developers-read")
permit (principal in Group::"developers", action == Action::"sql.read", resource);

@id("agents-no-writes")
forbid (principal, action in [Action::"sql.write", Action::"sql.ddl", Action::"sql.admin"], resource)
when { context has agent };

@id("developers-write")
permit (principal in Group::"developers", action == Action::"sql.write", resource);
`;

export interface TestGateway {
  readonly gw: Gateway;
  readonly url: string;
  readonly adminKey: string;
  readonly dir: string;
  /** The PostgreSQL listener's address. */
  readonly postgres: { host: string; port: number };
  /** fetch against the gateway with the admin key (or `token`). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * Boots the whole gateway in-process on an ephemeral port with an embedded store in a temp dir.
 * `yaml` is appended to a minimal config (store, listen, policies); `storeUrl` puts the store on
 * that PostgreSQL server instead.
 */
export async function startTestGateway(opts: {
  yaml?: string; policies?: string; clock?: Clock; env?: Record<string, string>; recorder?: Recorder; storeUrl?: string; serverYaml?: string;
  /** Extra `server.http` entries in YAML flow style (`request_timeout: 2s`). */
  http?: string;
  /** The gateway's logger (default: silent, or GATEHOUSE_TEST_LOG's level). */
  log?: Logger;
} = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-test-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'test.cedar'), opts.policies ?? TEST_POLICIES);
  const yaml = [
    'server:',
    `  http: { listen: "127.0.0.1:0"${opts.http === undefined ? '' : `, ${opts.http}`} }`,
    ...(opts.serverYaml === undefined ? [] : [opts.serverYaml]),
    'store:',
    opts.storeUrl === undefined ? '  embedded: { path: ./state }' : `  postgres: { url: "${opts.storeUrl}" }`,
    'policies:',
    '  files: [ "policies/*.cedar" ]',
    opts.yaml ?? '',
  ].join('\n');
  const path = join(dir, 'gatehouse.yaml');
  writeFileSync(path, yaml);
  const config = loadConfig({ path, env: { ...process.env, ...opts.env } });
  const gw = await startGateway(config, {
    configPath: path,
    log: opts.log ?? createLogger({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.recorder ? { recorder: opts.recorder } : {}),
    // Every protocol listener the config wants (PostgreSQL; SSH with an ssh connection) on a free port.
    listen: Object.fromEntries(REGISTRY.listeners().map((l) => [l.name, '127.0.0.1:0'])),
  });
  const adminKey = readFileSync(gw.adminKeyPath ?? join(dir, 'state', 'admin.key'), 'utf8').trim();
  const url = gw.http.url;
  const postgres = gw.listeners.postgres;
  if (!postgres) throw new Error('the PostgreSQL listener did not start');
  return {
    gw, url, adminKey, dir, postgres: { host: postgres.host, port: postgres.port },
    async api(method, p, body, token = adminKey) {
      const res = await fetch(url + p, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) as Record<string, unknown> : {} };
    },
    async close() {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
