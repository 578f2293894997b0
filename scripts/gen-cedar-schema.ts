/**
 * Writes src/policy/schema.cedarschema from the protocol registry (src/policy/cedar-schema.ts).
 * `node scripts/gen-cedar-schema.ts --check` exits 1 instead when the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CEDAR_SCHEMA_PATH } from '../src/policy/cedar.ts';
import { cedarSchemaFor } from '../src/policy/cedar-schema.ts';

const text = cedarSchemaFor();

if (process.argv.includes('--check')) {
  let current = '';
  try { current = readFileSync(CEDAR_SCHEMA_PATH, 'utf8'); } catch { /* missing counts as stale */ }
  if (current !== text) {
    console.error('src/policy/schema.cedarschema is stale: run node scripts/gen-cedar-schema.ts');
    process.exit(1);
  }
} else {
  writeFileSync(CEDAR_SCHEMA_PATH, text);
  console.log(`wrote ${CEDAR_SCHEMA_PATH}`);
}
