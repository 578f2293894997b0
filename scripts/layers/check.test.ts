import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { check, edgesOf, folderCycles, importsOf, isRuntimeEntry, KNOWN, unitOf, type Edge } from './check.ts';

const LAYERS = [['kernel'], ['enforce'], ['protocols/http', 'protocols/postgres'], ['app']];
const edge = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly });

test('import forms: value, type-only, re-export, side effect, dynamic; packages ignored', () => {
  const text = [
    "import { a } from './a.ts';",
    "import type { B } from '../b.ts';",
    "import { type C } from './c.ts';",
    "export { d } from './d.ts';",
    "export type { E } from './e.ts';",
    "import './f.ts';",
    "const g = await import('./g.ts');",
    "import { createServer } from 'node:http';",
  ].join('\n');
  assert.deepEqual(importsOf(text), [
    { spec: './a.ts', typeOnly: false }, { spec: '../b.ts', typeOnly: true }, { spec: './c.ts', typeOnly: false },
    { spec: './d.ts', typeOnly: false }, { spec: './e.ts', typeOnly: true }, { spec: './f.ts', typeOnly: false },
    { spec: './g.ts', typeOnly: false, lazy: true },
  ]);
});

test('units: top folders, one per protocol', () => {
  assert.equal(unitOf('kernel/errors.ts'), 'kernel');
  assert.equal(unitOf('protocols/http/proxy/route.ts'), 'protocols/http');
  assert.equal(unitOf('inspect/sql/lineage/tree.ts'), 'inspect');
});

test('downward imports pass; a back-edge, a sibling protocol and an unplaced folder fail', () => {
  assert.deepEqual(check([edge('app/gateway.ts', 'protocols/http/x.ts'), edge('protocols/http/x.ts', 'enforce/authorize.ts')], LAYERS, []), []);
  const back = check([edge('enforce/authorize.ts', 'app/services.ts', true)], LAYERS, []);
  assert.equal(back.length, 1);
  assert.match(back[0]!, /enforce\/authorize\.ts -> app\/services\.ts: type import of a higher layer/);
  const sibling = check([edge('protocols/postgres/hold.ts', 'protocols/http/scanner.ts')], LAYERS, []);
  assert.match(sibling[0]!, /same layer \(protocols\/postgres may not depend on protocols\/http\)/);
  assert.match(check([edge('newfolder/a.ts', 'kernel/b.ts')], LAYERS, [])[0]!, /src\/newfolder\/ is in no layer/);
});

test('a declaration may name only its own folder\'s runtime.ts, and only lazily', () => {
  const layers = [['kernel'], ['protocols'], ['enforce'], ['protocols/http', 'protocols/postgres'], ['app']];
  const lazy = (from: string, to: string): Edge => ({ from, to, typeOnly: false, lazy: true });
  const entry = lazy('protocols/postgres/protocol.ts', 'protocols/postgres/runtime.ts');
  assert.ok(isRuntimeEntry(entry));
  assert.deepEqual(check([entry], layers, []), []);
  assert.deepEqual(folderCycles([entry, edge('protocols/postgres/serve.ts', 'protocols/postgres/protocol.ts')]), []);
  // A static import of the runtime, another file of the folder, another protocol's runtime, or
  // a file other than the declaration: each is an ordinary back-edge.
  for (const e of [
    edge('protocols/postgres/protocol.ts', 'protocols/postgres/runtime.ts'),
    lazy('protocols/postgres/protocol.ts', 'protocols/postgres/serve.ts'),
    lazy('protocols/postgres/protocol.ts', 'protocols/http/runtime.ts'),
    lazy('protocols/registry.ts', 'protocols/postgres/runtime.ts'),
  ]) {
    assert.equal(isRuntimeEntry(e), false, `${e.from} -> ${e.to}`);
    assert.equal(check([e], layers, []).length, 1, `${e.from} -> ${e.to}`);
  }
});

test('KNOWN tolerates a listed edge and fails once the edge is gone', () => {
  const pair = 'enforce/a.ts -> app/b.ts';
  assert.deepEqual(check([edge('enforce/a.ts', 'app/b.ts')], LAYERS, [pair]), []);
  assert.match(check([], LAYERS, [pair])[0]!, /no longer exists: remove it/);
});

test('folder cycles are found through value imports only', () => {
  const edges = [edge('app/a.ts', 'enforce/b.ts'), edge('enforce/b.ts', 'app/c.ts'), edge('kernel/x.ts', 'app/a.ts', true), edge('app/a.ts', 'kernel/y.ts')];
  assert.deepEqual(folderCycles(edges), [['app', 'enforce']]);
  assert.deepEqual(folderCycles(edges, false), [['app', 'enforce', 'kernel']]);
});

test('the tree of src/ keeps its layers (no new back-edge, no folder cycle)', () => {
  const edges = edgesOf(join(import.meta.dirname, '..', '..', 'src'));
  assert.ok(edges.length > 500, 'the walk found the imports');
  assert.deepEqual(check(edges), []);
  assert.deepEqual(folderCycles(edges), []);
  assert.deepEqual(KNOWN, [], 'no back-edge is tolerated');
});
