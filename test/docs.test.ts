import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs, DOC_PATH, SCHEMA_PATH } from '../scripts/gen-config-docs.ts';
import { runCli } from '../src/cli/main.ts';
import { loadConfig } from '../src/config/load.ts';
import { PolicyEngine } from '../src/policy/engine.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');
type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every key path of the configuration schema (`server.http.listen`, `connections[].name`, …). */
function schemaPaths(n: Node, at = ''): string[] {
  const out: string[] = [];
  const properties = isNode(n.properties) ? n.properties : {};
  for (const [k, v] of Object.entries(properties)) {
    if (!isNode(v)) continue;
    const p = at === '' ? k : `${at}.${k}`;
    out.push(p, ...schemaPaths(v, p));
    if (isNode(v.items)) out.push(...schemaPaths(v.items, `${p}[]`));
  }
  return out;
}

/** Runs the real CLI in-process and returns what it printed. */
async function cli(args: string[]): Promise<string> {
  let out = '';
  const code = await runCli(args, { out: (l) => { out += `${l}\n`; }, err: (l) => { out += `${l}\n`; }, env: {}, cwd: ROOT });
  assert.equal(code, 0, `gatehouse ${args.join(' ')}: ${out}`);
  return out;
}

/** The fenced code blocks of a Markdown text in `lang`. */
function blocks(md: string, lang: string): string[] {
  return [...md.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\``, 'gm'))].map((m) => m[1] ?? '');
}

/**
 * Every attribute path of `type Context` in the Cedar schema (`via`, `time.hour`, `sql.kinds` …),
 * read from the schema text itself so a new attribute cannot go undocumented.
 */
function contextPaths(schema: string): string[] {
  const start = schema.indexOf('type Context = {');
  assert.notEqual(start, -1, 'the schema declares type Context');
  const paths: string[] = [];
  const stack: string[] = [];
  for (const raw of schema.slice(start + 'type Context = {'.length).split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (line === '') continue;
    const open = /^(\w+)\??:\s*\{$/.exec(line);
    const attr = /^(\w+)\??:\s*[\w<>]+,?$/.exec(line);
    if (open?.[1] !== undefined) {
      paths.push([...stack, open[1]].join('.'));
      stack.push(open[1]);
    } else if (attr?.[1] !== undefined) {
      paths.push([...stack, attr[1]].join('.'));
    } else if (/^\},?;?$/.test(line)) {
      if (stack.length === 0) break;
      stack.pop();
    }
  }
  return paths;
}

describe('docs/configuration.md is generated from schema/gatehouse.schema.json', () => {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Node;

  test('the committed file equals the generator output (run: node scripts/gen-config-docs.ts)', () => {
    assert.equal(readFileSync(DOC_PATH, 'utf8'), renderConfigDocs(schema));
  });

  test('the generator documents every key of the schema, with its default and allowed values', () => {
    const doc = renderConfigDocs(schema);
    const paths = schemaPaths(schema);
    assert.ok(paths.length > 80, `the walk found the keys (${paths.length})`);
    for (const p of paths) assert.ok(doc.includes(`| \`${p}\` |`), `${p} has a row`);
    assert.match(doc, /\| `server\.http\.listen` \| string \| `"127\.0\.0\.1:8080"` \|/);
    assert.match(doc, /\| `log\.level` \| string \| `"info"` \| .*One of: `trace`, `debug`, `info`, `warn`, `error`, `fatal`\./);
    assert.match(doc, /When `connections\[\]\.type` is `"llm"`: `connections\[\]\.provider` is required\./);
    const changed = structuredClone(schema);
    ((changed.properties as Node).log as Node).description = 'changed';
    assert.notEqual(renderConfigDocs(changed), doc, 'a schema change changes the document');
  });
});

describe('docs/cli.md', () => {
  test('every command `gatehouse --help` lists has a section naming each of its flags', async () => {
    const md = read('docs/cli.md');
    const help = await cli(['--help']);
    const commands = [...help.matchAll(/^ {2}([a-z]+(?: [a-z]+)?) {2,}\S/gm)].map((m) => m[1] ?? '');
    assert.ok(commands.length >= 15, `the help lists the commands (${commands.join(', ')})`);
    for (const c of commands) {
      const heading = `### gatehouse ${c}\n`;
      const at = md.indexOf(heading);
      assert.notEqual(at, -1, `cli.md has a section "${heading.trim()}"`);
      const rest = md.slice(at + heading.length);
      const section = rest.slice(0, rest.search(/^#{2,3} /m) === -1 ? undefined : rest.search(/^#{2,3} /m));
      const usage = await cli([...c.split(' '), '--help']);
      const flags = new Set(usage.match(/--[a-z][a-z-]*/g) ?? []);
      flags.delete('--help');
      for (const f of flags) assert.ok(section.includes(`\`${f}`), `cli.md documents ${f} of "gatehouse ${c}"`);
    }
    for (const env of ['GATEHOUSE_URL', 'GATEHOUSE_TOKEN', 'GATEHOUSE_CONFIG']) assert.ok(md.includes(env), env);
  });
});

describe('docs/policy-guide.md', () => {
  const md = read('docs/policy-guide.md');
  const schema = read('src/policy/schema.cedarschema');

  test('documents every context attribute, action and entity of src/policy/schema.cedarschema', () => {
    const paths = contextPaths(schema);
    for (const p of ['via', 'agent.id', 'time.hour', 'sql.has_where', 'llm.secret_types', 'http.method', 'mcp.tool']) assert.ok(paths.includes(p), `the parser found ${p}`);
    for (const p of paths) assert.ok(md.includes(`\`context.${p}\``), `context.${p} is documented`);
    const actions = [...schema.matchAll(/^action ([\s\S]*?) appliesTo/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/"([\w.]+)"/g)].map((a) => a[1] ?? ''));
    assert.ok(actions.length >= 9, `actions found: ${actions.join(', ')}`);
    for (const a of actions) assert.ok(md.includes(`Action::"${a}"`), `action ${a} is documented`);
    for (const e of [...schema.matchAll(/^entity (\w+)/gm)].map((m) => m[1] ?? '')) assert.ok(md.includes(`\`${e}::`), `entity ${e} is documented`);
  });

  test('every Cedar example in the docs validates against the schema', () => {
    for (const doc of ['docs/policy-guide.md', 'docs/getting-started.md', 'docs/deployment.md']) {
      const sources = blocks(read(doc), 'cedar').map((text, i) => ({ file: `${doc}#${i + 1}`, text }));
      if (doc === 'docs/policy-guide.md') assert.ok(sources.length >= 5, 'the guide has examples');
      if (sources.length > 0) assert.doesNotThrow(() => PolicyEngine.fromSources(sources), doc);
    }
  });
});

describe('the YAML snippets of the docs are valid configuration', () => {
  // Every ${VAR} resolves to a placeholder, as the operator's environment would provide it.
  const env = new Proxy<Record<string, string>>({}, { get: () => 'placeholder-value' });
  for (const doc of ['docs/getting-started.md', 'docs/policy-guide.md', 'docs/deployment.md']) {
    test(doc, () => {
      const snippets = blocks(read(doc), 'yaml');
      assert.ok(snippets.length > 0);
      for (const text of snippets) assert.doesNotThrow(() => loadConfig({ text, env, baseDir: ROOT }), text);
    });
  }
});

describe('links', () => {
  test('every relative link of the README, docs/ and examples/ READMEs points at a file that exists', () => {
    const files = ['README.md', 'docs/getting-started.md', 'docs/cli.md', 'docs/policy-guide.md', 'docs/deployment.md', 'docs/configuration.md',
      'examples/README.md', 'examples/langchain-js/README.md', 'examples/python/README.md', 'examples/mcp/README.md', 'examples/policies/README.md'];
    for (const f of files) {
      for (const m of read(f).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1] ?? '';
        if (/^[a-z]+:/.test(target)) continue;
        assert.ok(existsSync(resolve(dirname(join(ROOT, f)), target)), `${f} links to ${target}`);
      }
    }
  });
});
