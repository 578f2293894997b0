/**
 * Static checks of the deployment files (issue 20), fast and offline, in `npm test`:
 * - compose.yaml validates with `docker-compose config` (Debian's docker-compose v1, no daemon
 *   needed; .ci/run installs it), and what it mounts exists;
 * - every manifest `kubectl kustomize` renders, for the base and each overlay, validates against
 *   the Kubernetes schemas (kubernetes-models), with the properties the deployment relies on;
 * - the gatehouse.yaml of the image, of the quick-start and inside each rendered ConfigMap passes
 *   `gatehouse config validate` (secret files it reads are replaced by temporary ones);
 * - the Dockerfile keeps its contract (base build argument, non-root user, health check).
 * The image itself is built and run by `npm run test:deploy` (test/deploy/e2e.deploy.ts).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { runCli } from '../../src/cli/main.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CI = process.env.CI === 'true';
const has = (cmd: string): boolean => spawnSync(cmd, ['--help'], { stdio: 'ignore' }).status !== null && spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** A tool CI must have (.ci/run installs it); elsewhere its absence skips only that check, saying why. */
function needTool(cmd: string, pkg: string): string | false {
  if (has(cmd)) return false;
  assert.ok(!CI, `${cmd} is required in CI (apt-get install ${pkg}; .ci/run installs it)`);
  return `${cmd} is not installed (apt-get install ${pkg})`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const get = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (isObj(v) ? v[k] : Array.isArray(v) ? v[Number(k)] : undefined), o);

/** Runs `gatehouse config validate` in-process on `yamlText` placed at `dir/gatehouse.yaml`. */
async function validateConfig(yamlText: string, dir: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'gatehouse.yaml');
  writeFileSync(path, yamlText);
  let out = '';
  const code = await runCli(['config', 'validate', '--config', path], { out: (l) => { out += `${l}\n`; }, err: (l) => { out += `${l}\n`; }, env, cwd: dir });
  return { code, out };
}

/** Replaces absolute secret paths by files under `dir` (created, with a dummy value). */
function withSecretFiles(yamlText: string, prefix: string, dir: string): string {
  return yamlText.replace(new RegExp(`\\$\\{file:${prefix.replace(/[/.]/g, '\\$&')}([^}]+)\\}`, 'g'), (_m, name: string) => {
    const f = join(dir, 'secrets', name);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, 'a-test-secret-value\n');
    return `\${file:${f}}`;
  });
}

let work = '';
before(() => { work = mkdtempSync(join(tmpdir(), 'gh-deploy-static-')); });
after(() => { rmSync(work, { recursive: true, force: true }); });

describe('compose.yaml (the quick-start)', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'compose.yaml'), 'utf8')) as Obj;
  const services = compose.services as Record<string, Obj>;

  test('docker-compose config validates it', { skip: needTool('docker-compose', 'docker-compose') }, () => {
    const r = spawnSync('docker-compose', ['-f', 'compose.yaml', 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  test('the gateway is built from the Dockerfile, read-only, with its state in one volume; files it mounts exist', () => {
    assert.deepEqual(get(services, 'gatehouse.build'), { context: '.', target: 'gateway', args: { DEPS: 'registry' } });
    assert.deepEqual(get(services, 'dev-idp.build'), { context: '.', target: 'dev-idp', args: { DEPS: 'registry' } });
    assert.equal(get(services, 'gatehouse.read_only'), true);
    assert.equal(get(services, 'dev-idp.network_mode'), 'service:gatehouse', 'the IdP shares the gateway network namespace (one issuer URL for both)');
    const mounts = (services.gatehouse?.volumes as string[]);
    assert.ok(mounts.includes('gatehouse-state:/var/lib/gatehouse'));
    for (const [name, svc] of Object.entries(services)) {
      for (const v of (svc.volumes as string[] | undefined) ?? []) {
        const src = v.split(':')[0] ?? '';
        if (src.startsWith('./')) assert.ok(existsSync(join(ROOT, src)), `${name}: ${src} exists`);
      }
      for (const p of (svc.ports as string[] | undefined) ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name}: ${p} is published on loopback only`);
    }
    for (const [name, s] of Object.entries(compose.secrets as Record<string, { file: string }>)) assert.ok(existsSync(join(ROOT, s.file)), `secret ${name}`);
  });

  test('its gatehouse.yaml passes gatehouse config validate', async () => {
    const text = withSecretFiles(readFileSync(join(ROOT, 'deploy/compose/gatehouse.yaml'), 'utf8'), '/run/secrets/', join(work, 'compose'))
      .replace('/app/policies/', `${join(ROOT, 'policies')}/`);
    const dir = join(work, 'compose');
    mkdirSync(join(dir, 'policies'), { recursive: true });
    writeFileSync(join(dir, 'policies', 'quickstart.cedar'), readFileSync(join(ROOT, 'deploy/compose/policies/quickstart.cedar')));
    const r = await validateConfig(text, dir);
    assert.equal(r.code, 0, r.out);
    let out = '';
    const check = await runCli(['policy', 'check', '--config', join(dir, 'gatehouse.yaml')], { out: (l) => { out += l; }, err: (l) => { out += l; }, env: {}, cwd: dir });
    assert.equal(check, 0, `the shipped policies and quickstart.cedar check: ${out}`);
  });

  test('the image default gatehouse.yaml passes gatehouse config validate', async () => {
    const r = await validateConfig(readFileSync(join(ROOT, 'deploy/docker/gatehouse.yaml'), 'utf8'), join(work, 'image'));
    assert.equal(r.code, 0, r.out);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  test('base image argument defaulting to node:24-slim, both dependency sources, non-root, health check, state volume', () => {
    assert.match(text, /^ARG BASE=node:24-slim$/m);
    assert.match(text, /^FROM \$\{BASE\} AS deps-registry$/m);
    assert.match(text, /^FROM \$\{BASE\} AS deps-context$/m);
    assert.match(text, /^FROM deps-\$\{DEPS\} AS deps$/m);
    assert.match(text, /^USER 10001:10001$/m);
    assert.match(text, /^HEALTHCHECK .*\n\s+CMD \["node", "\/app\/deploy\/docker\/healthcheck\.mjs"\]$/m);
    assert.match(text, /^VOLUME \["\/var\/lib\/gatehouse"\]$/m);
    assert.match(text, /^ENTRYPOINT \["\/app\/bin\/gatehouse"\]$/m);
    // The last stage is the gateway: a plain `docker build .` builds it.
    assert.match(text.slice(text.lastIndexOf('\nFROM ')), /^\nFROM gateway-base AS gateway$/m);
    for (const f of ['.dockerignore', 'deploy/docker/offline.dockerignore']) {
      const ignore = readFileSync(join(ROOT, f), 'utf8').split('\n');
      assert.equal(ignore.includes('node_modules'), f === '.dockerignore', `${f}: node_modules ${f === '.dockerignore' ? 'excluded' : 'included'}`);
    }
  });
});

describe('deploy/kubernetes (kubectl kustomize)', () => {
  const skip = needTool('kubectl', 'kubectl');
  const dirs = ['base', ...readdirSync(join(ROOT, 'deploy/kubernetes/overlays')).map((d) => `overlays/${d}`)];

  /** The rendered manifests of one kustomization. */
  function render(dir: string): Obj[] {
    const r = spawnSync('kubectl', ['kustomize', join(ROOT, 'deploy/kubernetes', dir)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter((o) => isObj(o));
  }

  /** kubernetes-models' class for an object (apiVersion + kind), validating against the OpenAPI schemas. */
  async function validateManifest(o: Obj): Promise<void> {
    const [group, version] = String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/') : ['', String(o.apiVersion)];
    const mod = group === '' ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
    const models = (await import(mod)) as Record<string, new (data: Obj) => { validate(): void }>;
    const Model = models[String(o.kind)];
    assert.ok(Model, `no schema for ${String(o.apiVersion)} ${String(o.kind)}`);
    new Model(o).validate();
  }

  for (const dir of dirs) {
    test(`${dir}: every manifest validates; the Deployment, Services, PDB and config are what the docs say`, { skip }, async () => {
      const objs = render(dir);
      for (const o of objs) await validateManifest(o);
      const find = (kind: string, name: string): Obj => {
        const o = objs.find((x) => x.kind === kind && (get(x, 'metadata.name') === name || String(get(x, 'metadata.name')).startsWith(`${name}-`)));
        assert.ok(o, `${dir}: ${kind} ${name}`);
        return o;
      };
      const dep = find('Deployment', 'gatehouse');
      assert.ok(Number(get(dep, 'spec.replicas')) >= 2);
      assert.deepEqual(get(dep, 'spec.strategy'), { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      const pod = get(dep, 'spec.template.spec') as Obj;
      assert.equal(get(pod, 'securityContext.runAsNonRoot'), true);
      const c = get(pod, 'containers.0') as Obj;
      assert.equal(get(c, 'readinessProbe.httpGet.path'), '/readyz');
      assert.equal(get(c, 'livenessProbe.httpGet.path'), '/healthz');
      assert.equal(get(c, 'securityContext.readOnlyRootFilesystem'), true);
      assert.equal(get(c, 'securityContext.allowPrivilegeEscalation'), false);
      assert.deepEqual(get(c, 'securityContext.capabilities.drop'), ['ALL']);
      assert.ok(get(c, 'resources.requests.cpu') && get(c, 'resources.limits.memory'));
      const volumes = (pod.volumes as Obj[]);
      const cm = (name: string): Obj => find('ConfigMap', String(get(volumes.find((v) => v.name === name), 'configMap.name')));
      assert.equal(get(cm('policies'), 'metadata.name'), 'gatehouse-policies', 'policies keep a stable name (edited in place, reloaded live)');
      assert.match(String(get(cm('config'), 'metadata.name')), /^gatehouse-config-[a-z0-9]+$/, 'gatehouse.yaml gets a hash suffix (a change rolls the pods)');
      assert.equal(get(volumes.find((v) => v.name === 'secrets'), 'secret.secretName'), 'gatehouse-secrets');
      const svc = find('Service', 'gatehouse');
      assert.deepEqual((get(svc, 'spec.ports') as Obj[]).map((p) => p.targetPort), ['https', 'postgres', 'ssh']);
      const named = new Set((c.ports as Obj[]).map((p) => p.name));
      for (const p of get(svc, 'spec.ports') as Obj[]) assert.ok(named.has(p.targetPort), `Service port ${String(p.targetPort)} exists on the container`);
      assert.equal(get(find('PodDisruptionBudget', 'gatehouse'), 'spec.minAvailable'), 1);

      // The gatehouse.yaml inside the ConfigMap validates; the policies in the other are the shipped ones.
      const yamlText = (get(cm('config'), 'data') as Record<string, string>)['gatehouse.yaml'] ?? '';
      // Pods are deleted with their emptyDir: nothing acknowledged may live there (issue 20 item 4),
      // and every replica presents the one SSH host key of the mounted Secret.
      const cfg = parseYaml(yamlText) as Obj;
      assert.equal(get(cfg, 'recording.durability'), 'store', 'recordings are committed to the store before the client is answered');
      assert.ok(volumes.find((v) => v.name === 'state')?.emptyDir !== undefined, 'the state volume is the pod\'s own (deleted with it)');
      const secretsMount = get((c.volumeMounts as Obj[]).find((m) => m.name === 'secrets'), 'mountPath');
      assert.equal(get(cfg, 'server.ssh.host_key'), `${String(secretsMount)}/ssh_host_ed25519_key`, 'the SSH host key is a file of the mounted Secret');
      const cdir = join(work, dir.replace('/', '-'));
      const policiesDir = join(cdir, 'policies');
      mkdirSync(policiesDir, { recursive: true });
      const policies = get(cm('policies'), 'data') as Record<string, string>;
      assert.deepEqual(Object.keys(policies).sort(), readdirSync(join(ROOT, 'policies')).filter((f) => f.endsWith('.cedar')).sort(), 'the ConfigMap has every shipped policy');
      for (const [name, text] of Object.entries(policies)) {
        writeFileSync(join(policiesDir, name), text);
        assert.equal(text, readFileSync(join(ROOT, 'policies', name), 'utf8'), `${name} is the shipped policy`);
      }
      const text = withSecretFiles(yamlText, '/etc/gatehouse/secrets/', cdir).replace('/etc/gatehouse/policies/', `${policiesDir}/`);
      const r = await validateConfig(text, cdir);
      assert.equal(r.code, 0, r.out);
    });
  }

  test('kubectl kustomize of the external-postgres overlay drops the in-cluster store and points at the external one', { skip }, () => {
    const objs = render('overlays/external-postgres');
    assert.ok(!objs.some((o) => get(o, 'metadata.name') === 'gatehouse-store'));
    const cm = objs.find((o) => o.kind === 'ConfigMap' && String(get(o, 'metadata.name')).startsWith('gatehouse-config-'));
    const cfg = parseYaml((get(cm, 'data') as Record<string, string>)['gatehouse.yaml'] ?? '') as Obj;
    assert.match(String(get(cfg, 'store.postgres.url')), /sslmode=verify-full/);
  });
});
