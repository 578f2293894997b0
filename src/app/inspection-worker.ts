/**
 * The inspection worker thread (started by inspection-pool.ts): parses SQL and scans request
 * bodies, and parses shell commands, off the main event loop, with the same code and limits as the
 * inline path.
 */
import { workerData } from 'node:worker_threads';
import { initSqlInspector, SqlInspector } from '../inspect/sql/inspect.ts';
import { MaskingRules } from '../masking/rules.ts';
import { prepareRequest } from '../protocols/http/proxy/prepare.ts';
import { inspectionScanner } from '../masking/scanner.ts';
import { serveTasks } from '../kernel/worker-serve.ts';
import { withExactValues } from '../masking/exact-values.ts';
import type { TextMasker } from '../masking/text-masker.ts';
import { maskResponseJson } from '../inspect/prompt/inspect.ts';
import { maskForm, maskJsonText } from '../protocols/http/proxy/body-mask.ts';
import { shellInspector } from '../shell/inspector.ts';
import { lazyRetrying } from '../kernel/lazy.ts';
import type { InspectionResult, InspectionTask, InspectionWorkerData, MaskedReply, ResponseMaskOp } from './inspection-tasks.ts';

const data = workerData as InspectionWorkerData;
const ready = initSqlInspector();
// No cache: the main thread keeps the caches; a worker sees only texts that missed them.
const inspector = new SqlInspector({ maxBytes: data.maxSqlBytes, maxStatements: data.maxStatements, cacheEntries: 0, cacheChars: 0, templateEntries: 0 });
const masking = new MaskingRules(data.maskingRules, Buffer.from(data.hashKey));

const hashKey = Buffer.from(data.hashKey);

/**
 * The shell inspector (its grammar loaded on the first command, not by workers that never see
 * one). A failed load is not kept: that command is refused, and the next one loads again.
 */
const shell = lazyRetrying(shellInspector);

/** The main thread's response masker (`credential-echo.ts` `responseMasker`): rules plus the secrets' echo forms. */
function responseMasker(connection: string, forms: readonly string[]): TextMasker | undefined {
  const rules = masking.textMasker(connection, 'response');
  return withExactValues(rules, forms, hashKey) ?? rules;
}

/** Masks a buffered response body; SyntaxError and RangeError keep their kind (the caller maps them). */
function maskBody(op: ResponseMaskOp, text: string, masker: TextMasker): MaskedReply {
  try {
    if (op === 'json') return { text: maskJsonText(text, masker) };
    if (op === 'form') return { text: maskForm(text, masker) };
    const doc = maskResponseJson(JSON.parse(text) as unknown, masker);
    const usage = doc !== null && typeof doc === 'object' && 'usage' in doc ? doc.usage : undefined;
    return { text: JSON.stringify(doc), ...(usage === undefined ? {} : { usage }) };
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof RangeError) throw Object.assign(new Error(err.message), { code: err.name });
    throw err;
  }
}

/** The inspection masker of this worker, built once. */
const scanner = inspectionScanner(masking.hashKey);

serveTasks(async (task: InspectionTask): Promise<InspectionResult> => {
  if (task.kind === 'sql') {
    await ready;
    return inspector.inspect(task.sql);
  }
  if (task.kind === 'shell') {
    return (await shell())(task.command);
  }
  if (task.kind === 'mask') {
    const masker = responseMasker(task.connection, task.forms);
    if (masker === undefined) throw new Error('no response masker for this connection');
    return maskBody(task.op, task.text, masker);
  }
  const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
  const p = prepareRequest({
    conn: task.conn, method: task.method, endpoint: task.endpoint, raw, contentType: task.contentType, format: task.format,
    scanner, egress: task.egress ? masking.textMasker(task.conn.name, 'request') : undefined,
    contentEncoding: task.contentEncoding, ...(task.bodyLimit === undefined ? {} : { bodyLimit: task.bodyLimit }),
  });
  const promptIsBody = p.prompt !== undefined && p.body !== undefined && p.body.toString('utf8') === p.prompt;
  return {
    facts: p.facts, body: p.body, promptIsBody, ...(p.prompt === undefined || promptIsBody ? {} : { prompt: p.prompt }),
    ...(p.contentType === undefined ? {} : { contentType: p.contentType }), ...(p.decoded === undefined ? {} : { decoded: p.decoded }),
  };
});
