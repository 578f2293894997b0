// Build helper (Dockerfile): keeps in ./node_modules only the named packages and everything they
// need at run time, read from package-lock.json (lockfile v3, Node's module resolution: a
// dependency of a package is looked up in its own node_modules, then upwards); every other
// installed package is deleted. Offline and without npm.
//   node closure.mjs <package>…                 those packages (the dev-idp stage: oidc-provider)
//   node closure.mjs --production [<package>…]  package.json's dependencies except "node" (the
//                                               image runs the base image's Node), plus those
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import process from 'node:process';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const packages = lock.packages ?? {};
const keep = new Set();

/** The lockfile key that `name`, required from the package at `from`, resolves to. */
function resolveFrom(from, name) {
  for (let prefix = from; ; prefix = prefix.slice(0, Math.max(0, prefix.lastIndexOf('node_modules/') - 1))) {
    const key = prefix === '' ? `node_modules/${name}` : `${prefix}/node_modules/${name}`;
    if (packages[key]) return key;
    if (prefix === '') return undefined;
  }
}

function visit(key) {
  if (keep.has(key)) return;
  keep.add(key);
  const entry = packages[key];
  for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) {
    const found = resolveFrom(key, dep);
    if (found) visit(found);
    else if (!entry.optionalDependencies?.[dep] && !entry.peerDependenciesMeta?.[dep]?.optional) {
      throw new Error(`closure: ${dep} (needed by ${key}) is not in package-lock.json`);
    }
  }
}

const args = process.argv.slice(2);
const production = args[0] === '--production';
const roots = production
  ? [...Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).dependencies ?? {}).filter((d) => d !== 'node'), ...args.slice(1)]
  : args;
if (roots.length === 0) throw new Error('usage: node closure.mjs <package>…');
for (const name of roots) {
  const key = `node_modules/${name}`;
  if (!packages[key]) throw new Error(`closure: ${name} is not installed at the top level`);
  visit(key);
}

/** Deletes every top-level package folder (and scoped one) that nothing kept lives in. */
let removed = 0;
for (const entry of readdirSync('node_modules')) {
  const names = entry.startsWith('@') ? readdirSync(`node_modules/${entry}`).map((n) => `${entry}/${n}`) : [entry];
  for (const name of names) {
    const key = `node_modules/${name}`;
    if (name === '.bin' || name === '.package-lock.json') { rmSync(key, { recursive: true, force: true }); continue; }
    if (![...keep].some((k) => k === key || k.startsWith(`${key}/`))) { rmSync(key, { recursive: true, force: true }); removed++; }
  }
  if (entry.startsWith('@') && readdirSync(`node_modules/${entry}`).length === 0) rmSync(`node_modules/${entry}`, { recursive: true });
}
process.stdout.write(`closure: kept ${keep.size} packages for ${roots.join(', ')}, removed ${removed}\n`);
