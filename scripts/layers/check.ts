/**
 * The import-boundary check (`npm run lint` runs it): the folders of `src/` are layers, and an
 * import — a value import or a type-only one — may only point to a strictly lower layer. Two
 * folders of one row never import each other (the protocols do not borrow each other's
 * internals). A folder missing from {@link LAYERS} fails the check, so a new folder is placed
 * on purpose. Tests, conformance cases (`*.case.ts`) and fixtures are exempt: they may reach
 * across layers to set a scene.
 *
 * `KNOWN` lists back-edges tolerated for a while, each by exact file pair (empty since issue 18:
 * keep it so); a listed edge that no longer exists fails too, so the list only shrinks.
 *
 * @example node scripts/layers/check.ts            # exit 1 and one line per violation
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

/** The layers, lowest first. A folder may import only from rows below its own. */
export const LAYERS: readonly (readonly string[])[] = [
  ['kernel'],
  // The protocol declarations (pure data: connection types, actions, facts, listener sections)
  // and their registry, which configuration, policy and the store derive from: see unitOf.
  ['protocols'],
  ['store'],
  ['audit', 'identity'],
  ['policy', 'recording'],
  ['config'],
  ['masking', 'connections'],
  ['inspect'],
  ['reviews'],
  // The data-path toolkit: the enforcement point (authorize, authenticate-and-audit, sessions),
  // then the HTTP toolkit (router, problem+json, bodies, bearer authentication, Host guard) and
  // the protocol-neutral SQL path (guard, review hold, the query-runner port) and shell path
  // (the command gate, the shell inspector loader, the command-runner port).
  ['enforce'],
  ['http', 'sql', 'shell'],
  // One folder per protocol; none imports another.
  ['protocols/http', 'protocols/postgres', 'protocols/mcp', 'protocols/ssh'],
  // The admin API, and the web console (its pages call the admin API over HTTP).
  ['api', 'console'],
  // The roof: the composition root and the HTTP surfaces it mounts; then the CLI over it.
  ['app'],
  ['cli'],
];

/** Back-edges tolerated for now (`from -> to`, paths under src/). Remove an entry when its edge goes. */
export const KNOWN: readonly string[] = [];

/** One import between two folders of `src/`. */
export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
  /** A dynamic `import('…')`: evaluated when called, not when the importing module loads. */
  readonly lazy?: boolean;
}

const IMPORT = /(?:^|[\n;])\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The relative imports of a source text (static, re-exports, side-effect and literal dynamic ones). */
export function importsOf(text: string): { spec: string; typeOnly: boolean; lazy?: true }[] {
  const out: { spec: string; typeOnly: boolean; lazy?: true }[] = [];
  for (const m of text.matchAll(IMPORT)) {
    if (m[3] !== undefined) out.push({ spec: m[3], typeOnly: m[2] !== undefined });
    else if (m[4] !== undefined) out.push({ spec: m[4], typeOnly: false, lazy: true });
  }
  return out;
}

/**
 * The one upward edge allowed: a protocol's declaration (`protocols/<name>/protocol.ts`) naming
 * its own folder's running code by a lazy `import('./runtime.ts')` (`ProtocolModule.runtime`).
 * Only the composition root calls it, after every module has loaded, so configuration and policy,
 * which read the declarations, never load a protocol's running code.
 */
export function isRuntimeEntry(e: Edge): boolean {
  const m = /^protocols\/([^/]+)\/protocol\.ts$/.exec(e.from);
  return e.lazy === true && m !== null && e.to === `protocols/${m[1]}/runtime.ts`;
}

/**
 * The declaration files of a protocol folder (`protocols/<name>/protocol.ts` and its facts
 * types): they belong to the `protocols` unit with contract.ts and registry.ts, not to the
 * protocol's own (higher) unit.
 */
const DECLARATION = /^protocols\/[^/]+\/(protocol|facts)\.ts$/;

/** The layer unit of a path under src/: its top folder, or `protocols/<name>` (declarations: `protocols`). */
export function unitOf(path: string): string {
  const parts = path.split(/[\\/]/);
  if (DECLARATION.test(parts.join('/'))) return 'protocols';
  if (parts[0] === 'protocols' && parts.length > 2) return `protocols/${parts[1]}`;
  return parts.length > 1 ? parts[0]! : '.';
}

function exempt(path: string): boolean {
  return /\.(test|case|fixture)\.ts$/.test(path);
}

/** Every import between files of `srcDir` (paths relative to it, `/`-separated). */
export function edgesOf(srcDir: string): Edge[] {
  const edges: Edge[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !exempt(e.name)) {
        const from = relative(srcDir, p).split(sep).join('/');
        for (const imp of importsOf(readFileSync(p, 'utf8'))) {
          const to = relative(srcDir, normalize(join(dirname(p), imp.spec))).split(sep).join('/');
          if (!to.startsWith('..')) edges.push({ from, to, typeOnly: imp.typeOnly, ...(imp.lazy ? { lazy: true } : {}) });
        }
      }
    }
  };
  walk(srcDir);
  return edges;
}

/** The violations of the layering (one message each); empty when the tree is clean. */
export function check(edges: readonly Edge[], layers: readonly (readonly string[])[] = LAYERS, known: readonly string[] = KNOWN): string[] {
  const rank = new Map<string, number>();
  layers.forEach((row, i) => { for (const u of row) rank.set(u, i); });
  const problems: string[] = [];
  const unplaced = new Set<string>();
  const seen = new Set<string>();
  for (const e of edges) {
    if (isRuntimeEntry(e)) continue;
    const a = unitOf(e.from);
    const b = unitOf(e.to);
    for (const u of [a, b]) {
      if (!rank.has(u) && !unplaced.has(u)) {
        unplaced.add(u);
        problems.push(`src/${u}/ is in no layer: add it to LAYERS in scripts/layers/check.ts`);
      }
    }
    if (a === b || !rank.has(a) || !rank.has(b)) continue;
    if (rank.get(b)! < rank.get(a)!) continue;
    const pair = `${e.from} -> ${e.to}`;
    seen.add(pair);
    if (known.includes(pair)) continue;
    const why = rank.get(b) === rank.get(a) ? 'a folder of the same layer' : 'a higher layer';
    problems.push(`src/${pair}: ${e.typeOnly ? 'type ' : ''}import of ${why} (${a} may not depend on ${b})`);
  }
  for (const k of known) if (!seen.has(k)) problems.push(`KNOWN lists "${k}", which no longer exists: remove it`);
  return problems;
}

/** Strongly connected groups of folders (size > 1) in the folder graph of `edges` (for reports). */
export function folderCycles(edges: readonly Edge[], valueOnly = true): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    if ((valueOnly && e.typeOnly) || isRuntimeEntry(e)) continue;
    const a = unitOf(e.from);
    const b = unitOf(e.to);
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    graph.get(a)!.add(b);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string): void => {
    index.set(v, n); low.set(v, n); n++;
    stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

if (import.meta.main) {
  const srcDir = join(import.meta.dirname, '..', '..', 'src');
  const edges = edgesOf(srcDir);
  const problems = check(edges);
  for (const c of folderCycles(edges)) problems.push(`folder cycle (value imports): ${c.join(', ')}`);
  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    console.error(`layers: ${problems.length} violation(s); see docs/ARCHITECTURE.md (Layers)`);
    process.exitCode = 1;
  } else {
    console.log(`layers: ${edges.length} imports checked, ${KNOWN.length} known back-edge(s) left`);
  }
}
