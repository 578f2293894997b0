/**
 * Microbenchmark of SQL inspection: µs per call for a typical SELECT with a JOIN, uncached,
 * cached (same text), and from the literal-template cache (the same statement with another LIMIT,
 * as the simple protocol sends it), against libpg-query's bare `parseSync` measured in the same run.
 *
 *   npx node bench/sql-inspect.ts [iterations]
 */
import { parseSync } from 'libpg-query';
import { initSqlInspector, SqlInspector } from '../src/inspect/sql/inspect.ts';

const SQL = 'SELECT o.id, o.total, c.name, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at > $1 ORDER BY o.id LIMIT 50';
const iterations = Number(process.argv[2] ?? 20_000);

function measure(name: string, fn: () => unknown): number {
  for (let i = 0; i < 1000; i += 1) fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) fn();
  const micros = Number(process.hrtime.bigint() - start) / 1000 / iterations;
  console.log(`${name.padEnd(28)} ${micros.toFixed(2).padStart(8)} µs/op`);
  return micros;
}

await initSqlInspector();
const uncached = new SqlInspector({ cacheEntries: 0, templateEntries: 0 });
const cached = new SqlInspector();
if (!uncached.inspect(SQL).ok) throw new Error('benchmark SQL did not inspect');

console.log(`${SQL.length}-char SELECT with a JOIN, ${iterations} iterations`);
const parse = measure('libpg-query parseSync', () => parseSync(SQL));
const full = measure('inspect (uncached)', () => uncached.inspect(SQL));
const hit = measure('inspect (cache hit)', () => cached.inspect(SQL));
let n = 0;
const variant = measure('inspect (template hit)', () => cached.inspect(SQL.replace('LIMIT 50', `LIMIT ${++n}`)));
console.log(`ratio uncached/parseSync: ${(full / parse).toFixed(2)}x; cache hit/parseSync: ${(hit / parse).toFixed(3)}x; template hit/parseSync: ${(variant / parse).toFixed(3)}x`);
