/**
 * Initializes a new data directory of the embedded store (PGlite runs initdb) and exits: run as a
 * process of its own by embedded.ts (`node embedded-init.ts <dir>`), so that what initdb leaves
 * behind — ~0.5 GB of WebAssembly memory and the allocator's fragments of compiling and running
 * it — goes back to the system with the process instead of staying resident in the gateway.
 * Exit code 0 once the directory is initialized; otherwise 1, with PostgreSQL's message on stderr.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { EMBEDDED_CONF } from './embedded-conf.ts';

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: embedded-init.ts <data directory>\n');
  process.exit(2);
}
try {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = await PGlite.create({ dataDir: dir, postgresqlconf: [...EMBEDDED_CONF] });
  await db.close();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
