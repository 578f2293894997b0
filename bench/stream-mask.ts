/**
 * Stream-masking throughput with every built-in detector on: ~20 MB of LLM-like text (prose,
 * code, numbers, look-alikes and a sprinkling of real entities), streamed in chunks of several
 * sizes, compared with masking the whole text at once and with a plain copy of the chunks.
 *
 * Then the worst cases: 200 KB of digit-dense text, base64 and prose streamed in 4-character
 * deltas (CPU time of the process), and the text masker's cost per KB on ASCII, non-ASCII and
 * Unicode-disguised text at 90 KB and 9 MB (linear: the same cost per KB at both sizes).
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

/** CPU milliseconds of this process so far (the machine may be shared: wall time would lie). */
function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function time(label: string, fn: () => number): void {
  const t0 = cpuNow();
  const outLen = fn();
  const s = (cpuNow() - t0) / 1000;
  console.log(`${label.padEnd(34)} ${(mb / s).toFixed(1).padStart(8)} MB/s  (${s.toFixed(2)} s, out ${(outLen / 1e6).toFixed(1)} M chars)`);
}

console.log(`corpus: ${mb.toFixed(1)} MB, ${defaultDetectors().length} detectors; MB per CPU-second of this process`);
time('baseline: copy 16 KiB chunks', () => {
  let n = 0;
  for (let i = 0; i < text.length; i += 16_384) n += text.slice(i, i + 16_384).length;
  return n;
});
time('TextMasker.mask (whole text)', () => masker.mask(text).text.length);
for (const size of [65_536, 16_384, 1_024, 64]) {
  const slice = size >= 1_024 ? text : text.slice(0, Math.min(text.length, 2_000_000));
  const sliceMb = Buffer.byteLength(slice) / 1e6;
  const t0 = cpuNow();
  const sm = new StreamMasker(masker);
  let n = 0;
  for (let i = 0; i < slice.length; i += size) n += sm.push(slice.slice(i, i + size)).length;
  n += sm.end().length;
  const s = (cpuNow() - t0) / 1000;
  console.log(`${`StreamMasker ${size} B chunks`.padEnd(34)} ${(sliceMb / s).toFixed(1).padStart(8)} MB/s  (${s.toFixed(2)} s on ${sliceMb.toFixed(1)} MB, out ${(n / 1e6).toFixed(1)} M chars)`);
}

/** CPU milliseconds (user + system) spent in `fn`. */
function cpu(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

let seed = 7;
const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
function digitGroups(n: number, sep: string): string {
  let t = '';
  while (t.length < n) t += String(Math.floor(rnd() * 1e4)).padStart(4, '0') + sep;
  return t.slice(0, n);
}
const worst: Record<string, string> = {
  'digits, no separator': digitGroups(200_000, ''),
  'digit groups, "-"': digitGroups(200_000, '-'),
  'digit groups, " "': digitGroups(200_000, ' '),
  'digit groups, "."': digitGroups(200_000, '.'),
  'base64': Buffer.alloc(150_000, 'xyzAB0123').toString('base64').slice(0, 200_000),
  'prose': paragraphs.join('').repeat(400).slice(0, 200_000),
};
console.log('\nworst cases: 200 KB streamed in 4-character deltas (CPU ms of this process)');
for (const [name, t] of Object.entries(worst)) {
  const ms = cpu(() => {
    const sm = new StreamMasker(masker);
    for (let i = 0; i < t.length; i += 4) sm.push(t.slice(i, i + 4));
    sm.end();
  });
  console.log(`${name.padEnd(34)} ${ms.toFixed(0).padStart(8)} ms`);
}

const kinds: Record<string, string> = {
  'ASCII prose': text.slice(0, 90_000),
  'non-ASCII prose': 'Le café naïve — 漢字とかな, Привет мир, 😀 done. '.repeat(2_000).slice(0, 90_000),
  'disguised entities': 'card ４１１１\u200b１１１１ １１１１ １１１１, ssn 123\u201345\u20136789 and the rest. '.repeat(1_200).slice(0, 90_000),
};
console.log('\ntext masker cost per KB (CPU µs/KB): 90 KB and 9 MB');
for (const [name, t] of Object.entries(kinds)) {
  const small = t;
  const big = t.repeat(100);
  masker.mask(small);
  const a = cpu(() => masker.mask(small)) * 1000 / (small.length / 1024);
  const b = cpu(() => masker.mask(big)) * 1000 / (big.length / 1024);
  console.log(`${name.padEnd(34)} ${a.toFixed(0).padStart(8)} µs/KB  ${b.toFixed(0).padStart(8)} µs/KB`);
}
