/**
 * Podman for the deployment test (`npm run test:deploy`), with the settings that work on a CI
 * machine without a container registry or a Docker daemon (../shared/FACTS.md, "containers"):
 * root Podman, runc, cgroupfs, host network namespace for builds, images built locally from a
 * Debian base made with debootstrap. Nothing here changes the host's networking: containers run
 * in pods on slirp4netns with ports published on 127.0.0.1.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Cached between runs: the debootstrap root filesystem and the podman configuration. */
export const CACHE = process.env.GATEHOUSE_DEPLOY_CACHE ?? '/var/cache/gatehouse-deploy';
export const BASE_IMAGE = 'localhost/gatehouse-test/node24-bookworm:latest';
export const POSTGRES_IMAGE = 'localhost/gatehouse-test/postgres16-standin:latest';

const CONF = join(CACHE, 'containers.conf');

/** The environment every podman call gets. */
export function podmanEnv(): NodeJS.ProcessEnv {
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(CONF)) {
    writeFileSync(CONF, [
      '[containers]',
      'netns = "host"',
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      '',
    ].join('\n'));
  }
  return { ...process.env, CONTAINERS_CONF: CONF };
}

/** Runs podman; throws with its output on failure. */
export function podman(args: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): { code: number; out: string; err: string } {
  const r = spawnSync('podman', args, { env: podmanEnv(), encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
  const res = { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
  if (res.code !== 0 && !opts.allowFail) {
    throw new Error(`podman ${args.join(' ')} failed (${res.code}):\n${res.err.slice(-4000)}${r.error ? String(r.error) : ''}`);
  }
  return res;
}

/** Runs podman with its output streamed to our stderr (long builds), resolving with its exit code. */
export function podmanStreaming(args: string[], log: (line: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', args, { env: podmanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (d: Buffer): void => {
      tail = (tail + d.toString('utf8')).slice(-8000);
      for (const l of d.toString('utf8').split('\n')) if (l.trim() !== '') log(l);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(0);
      else reject(new Error(`podman ${args.slice(0, 3).join(' ')} … failed (${code ?? 'signal'}):\n${tail}`));
    });
  });
}

export const imageExists = (ref: string): boolean => podman(['image', 'exists', ref], { allowFail: true }).code === 0;

/** The Debian mirror apt uses on this machine (deb822 or one-line sources). */
function debianMirror(): string {
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    const m = /^URIs:\s*(\S+)/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\b/m.exec(text);
    if (m?.[1]) return m[1];
  }
  return 'http://deb.debian.org/debian';
}

/**
 * A stand-in for node:24-slim: Debian bookworm (debootstrap, minbase) with this repository's
 * pinned Node binary at /usr/local/bin/node and npm at /usr/local/lib/node_modules/npm, as the
 * official image has them. Built once; the root filesystem is cached in {@link CACHE}.
 */
export function ensureBaseImage(log: (l: string) => void): void {
  if (imageExists(BASE_IMAGE)) { log(`base image ${BASE_IMAGE}: cached`); return; }
  const rootfs = join(CACHE, 'rootfs');
  if (!existsSync(join(rootfs, 'etc/debian_version'))) {
    rmSync(rootfs, { recursive: true, force: true });
    log(`debootstrap bookworm into ${rootfs} (about 2 minutes)`);
    execFileSync('debootstrap', ['--variant=minbase', 'bookworm', rootfs, debianMirror()], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const stage = join(CACHE, 'base-stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(stage, 'usr/local/lib/node_modules'), { recursive: true });
  // The Node running this test: test/deploy/run.sh starts it from the pinned node@24 package
  // (whose binary sits at node_modules/node/bin/node or in its nested platform package).
  if (Number(process.versions.node.split('.')[0]) !== 24) throw new Error(`run with the pinned Node 24 (npm run test:deploy), not ${process.version}`);
  copyFileSync(realpathSync(process.execPath), join(stage, 'usr/local/bin/node'));
  const npmDir = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
  cpSync(join(npmDir, 'npm'), join(stage, 'usr/local/lib/node_modules/npm'), { recursive: true, dereference: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(stage, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(stage, 'usr/local/bin/npx'));
  // One tar stream: the debootstrap tree, then our overlay.
  log('importing the base image');
  execFileSync('bash', ['-o', 'pipefail', '-c',
    `tar -C ${JSON.stringify(rootfs)} -c . | podman import --change 'CMD ["node"]' - ${BASE_IMAGE}.tmp >/dev/null`], { env: podmanEnv(), stdio: ['ignore', 'ignore', 'inherit'] });
  writeFileSync(join(CACHE, 'Containerfile.base'), `FROM ${BASE_IMAGE}.tmp\nCOPY usr/ /usr/\nRUN node --version && npm --version\n`);
  podman(['build', '--pull=never', '--network=none', '-f', join(CACHE, 'Containerfile.base'), '-t', BASE_IMAGE, stage]);
  podman(['rmi', `${BASE_IMAGE}.tmp`], { allowFail: true });
}

/**
 * A stand-in for the official postgres:16-bookworm image, for the variables and init scripts
 * compose.yaml uses: POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE, PGPORT, and
 * /docker-entrypoint-initdb.d/*.sql|*.sh run once on an empty data directory. PostgreSQL 15
 * comes from Debian bookworm (apt, through the host's network during the build).
 */
export function ensurePostgresImage(root: string, log: (l: string) => void): void {
  if (imageExists(POSTGRES_IMAGE)) { log(`postgres stand-in ${POSTGRES_IMAGE}: cached`); return; }
  log('building the postgres stand-in image (apt-get install postgresql-15)');
  podman(['build', '--pull=never', '--network=host', '--build-arg', `BASE=${BASE_IMAGE}`,
    '-f', join(root, 'test/deploy/postgres-standin/Containerfile'), '-t', POSTGRES_IMAGE, join(root, 'test/deploy/postgres-standin')], { timeoutMs: 900_000 });
}

/**
 * Builds targets of the real Dockerfile offline (`--network=none`, DEPS=context): the build
 * context is a fresh copy of the repository's tracked files plus the packages of this checkout's
 * node_modules the images use (hard links), with deploy/docker/offline.dockerignore. The targets share
 * the context, so the second reuses the first's dependency layers.
 */
export function buildGatehouseImages(root: string, targets: readonly (readonly ['gateway' | 'dev-idp', string])[], log: (l: string) => void): void {
  const ctx = join(CACHE, 'context');
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0').filter((f) => f !== '' && f !== 'node_modules' && !f.startsWith('node_modules/'));
  for (const f of files) {
    if (!existsSync(join(root, f))) continue;
    mkdirSync(join(ctx, f, '..'), { recursive: true });
    copyFileSync(join(root, f), join(ctx, f));
  }
  const modules = execFileSync('readlink', ['-f', join(root, 'node_modules')], { encoding: 'utf8' }).trim();
  execFileSync('cp', ['-al', modules, join(ctx, 'node_modules')]);
  // Only what the images use (the runtime dependencies, and oidc-provider for the dev-idp): the
  // context is copied into the build, and half of node_modules is test and build tooling.
  // (Deleting hard links leaves the checkout's files alone.)
  execFileSync(process.execPath, [join(ctx, 'deploy/dev-idp/closure.mjs'), '--production', 'oidc-provider', 'jose'], { cwd: ctx, stdio: 'ignore' });
  for (const [target, tag] of targets) {
    log(`podman build --target ${target} (offline: --network=none, DEPS=context) → ${tag}`);
    podman(['build', '--pull=never', '--network=none', '--format', 'docker', '--layers',
      '--build-arg', `BASE=${BASE_IMAGE}`, '--build-arg', 'DEPS=context',
      '--ignorefile', join(ctx, 'deploy/docker/offline.dockerignore'),
      '--target', target, '-f', join(ctx, 'Dockerfile'), '-t', tag, ctx], { timeoutMs: 900_000 });
  }
}
