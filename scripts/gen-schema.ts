/**
 * Writes schema/gatehouse.schema.json from CONFIG_SCHEMA (src/config/schema.ts).
 * `node scripts/gen-schema.ts --check` exits 1 instead when the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigSchema } from '../src/config/schema.ts';

const target = fileURLToPath(new URL('../schema/gatehouse.schema.json', import.meta.url));
const text = renderConfigSchema();

if (process.argv.includes('--check')) {
  let current = '';
  try { current = readFileSync(target, 'utf8'); } catch { /* missing counts as stale */ }
  if (current !== text) {
    console.error('schema/gatehouse.schema.json is stale: run node scripts/gen-schema.ts');
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
