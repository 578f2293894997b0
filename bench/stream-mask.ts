/**
 * Stream-masking throughput with every built-in detector on: ~20 MB of LLM-like text (prose,
 * code, numbers, look-alikes and a sprinkling of real entities), streamed in chunks of several
 * sizes, compared with masking the whole text at once and with a plain copy of the chunks.
 *
 *   npx node bench/stream-mask.ts [megabytes]
 */
import { Buffer } from 'node:buffer';
import { StreamMasker } from '../src/masking/stream-masker.ts';
import { TextMasker, defaultDetectors } from '../src/masking/text-masker.ts';

const targetMb = Number(process.argv[2] ?? '20');

const paragraphs = [
  'The quarterly report shows revenue grew 12.5% to $4,210,000 while operating costs fell. ',
  'Release v2.14.3 (2024-06-01 12:30:45 UTC) fixes issue #48213 and updates the dependency to 1.2.0. ',
  'function add(a, b) {\n  return a + b; // see docs at https://example.com/docs/api?x=1\n}\n',
  'Order 550e8400-e29b-41d4-a716-446655440000 shipped; commit 3f786850e387550fdab836ed7e6dc881de23001b. ',
  'The customer asked whether the refund would arrive before Friday; the agent confirmed it would. ',
  'Note: the base64 payload aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYSBzZWNyZXQ= is only a greeting. ',
];
const entities = [
  'Contact jane.doe@example.com or +1 (415) 555-2671. ',
  'Card 4111 1111 1111 1111 exp 12/27, SSN 123-45-6789, IBAN DE89 3704 0044 0532 0130 00. ',
  'Key AKIAIOSFODNN7EXAMPLE and password="Xy7#pQ2vLm9zK" from 10.20.30.40. ',
];

function corpus(bytes: number): string {
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const p = i % 50 === 49 ? entities[i % entities.length]! : paragraphs[i % paragraphs.length]!;
    parts.push(p);
    n += p.length;
  }
  return parts.join('');
}

const text = corpus(targetMb * 1_000_000);
const mb = Buffer.byteLength(text) / 1e6;
const masker = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 1) });

function time(label: string, fn: () => number): void {
  const t0 = performance.now();
  const outLen = fn();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(34)} ${(mb / s).toFixed(1).padStart(8)} MB/s  (${s.toFixed(2)} s, out ${(outLen / 1e6).toFixed(1)} M chars)`);
}

console.log(`corpus: ${mb.toFixed(1)} MB, ${defaultDetectors().length} detectors`);
time('baseline: copy 16 KiB chunks', () => {
  let n = 0;
  for (let i = 0; i < text.length; i += 16_384) n += text.slice(i, i + 16_384).length;
  return n;
});
time('TextMasker.mask (whole text)', () => masker.mask(text).text.length);
for (const size of [65_536, 16_384, 1_024, 64]) {
  const slice = size >= 1_024 ? text : text.slice(0, Math.min(text.length, 2_000_000));
  const sliceMb = Buffer.byteLength(slice) / 1e6;
  const t0 = performance.now();
  const sm = new StreamMasker(masker);
  let n = 0;
  for (let i = 0; i < slice.length; i += size) n += sm.push(slice.slice(i, i + size)).length;
  n += sm.end().length;
  const s = (performance.now() - t0) / 1000;
  console.log(`${`StreamMasker ${size} B chunks`.padEnd(34)} ${(sliceMb / s).toFixed(1).padStart(8)} MB/s  (${s.toFixed(2)} s on ${sliceMb.toFixed(1)} MB, out ${(n / 1e6).toFixed(1)} M chars)`);
}
