/**
 * The inspection worker thread (started by inspection-pool.ts): parses SQL and scans request
 * bodies off the main event loop, with the same code and limits as the inline path.
 */
import { workerData } from 'node:worker_threads';
import { initSqlInspector, SqlInspector } from '../inspect/sql/inspect.ts';
import { MaskingRules } from '../masking/rules.ts';
import { prepareRequest } from '../protocols/http/proxy/prepare.ts';
import { scannerFor } from '../protocols/http/proxy/scanner.ts';
import { serveTasks } from '../kernel/worker-serve.ts';
import type { InspectionResult, InspectionTask, InspectionWorkerData } from './inspection-tasks.ts';

const data = workerData as InspectionWorkerData;
const ready = initSqlInspector();
// No cache: the main thread keeps the caches; a worker sees only texts that missed them.
const inspector = new SqlInspector({ maxBytes: data.maxSqlBytes, maxStatements: data.maxStatements, cacheEntries: 0, cacheChars: 0, templateEntries: 0 });
const masking = new MaskingRules(data.maskingRules, Buffer.from(data.hashKey));

serveTasks(async (task: InspectionTask): Promise<InspectionResult> => {
  if (task.kind === 'sql') {
    await ready;
    return inspector.inspect(task.sql);
  }
  const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
  const p = prepareRequest({
    conn: task.conn, method: task.method, endpoint: task.endpoint, raw, contentType: task.contentType, format: task.format,
    scanner: scannerFor({ masking }), egress: task.egress ? masking.textMasker(task.conn.name, 'request') : undefined,
    contentEncoding: task.contentEncoding, ...(task.bodyLimit === undefined ? {} : { bodyLimit: task.bodyLimit }),
  });
  const promptIsBody = p.prompt !== undefined && p.body !== undefined && p.body.toString('utf8') === p.prompt;
  return {
    facts: p.facts, body: p.body, promptIsBody, ...(p.prompt === undefined || promptIsBody ? {} : { prompt: p.prompt }),
    ...(p.contentType === undefined ? {} : { contentType: p.contentType }), ...(p.decoded === undefined ? {} : { decoded: p.decoded }),
  };
});
