import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isGatehouseError } from '../kernel/errors.ts';
import { chunkSizesArb, fillerArb, soupArb, splitBySizes, textWithEntitiesArb } from './detectors/arbitraries.case.ts';
import type { Detector } from './detectors/types.ts';
import { StreamMasker } from './stream-masker.ts';
import type { Strategy } from './strategies.ts';
import { TextMasker, defaultDetectors } from './text-masker.ts';

const hashKey = Buffer.alloc(32, 7);
const masker = (strategy: Strategy = 'redact'): TextMasker => new TextMasker({ detectors: defaultDetectors(), strategy, hashKey });

/** Streams `chunks` and returns every emitted piece (the last one from `end()`). */
function stream(m: TextMasker, chunks: readonly string[], opts: { maxHoldBytes?: number } = {}): string[] {
  const sm = new StreamMasker(m, opts);
  const pieces = chunks.map((c) => sm.push(c));
  pieces.push(sm.end());
  return pieces;
}

/** 6-character windows of `secret` that do not occur in the text around it. */
function grams(secret: string, elsewhere: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 6 <= secret.length; i++) {
    const g = secret.slice(i, i + 6);
    if (!elsewhere.includes(g)) out.push(g);
  }
  return out;
}

describe('StreamMasker', () => {
  test('any split of any text gives exactly the whole-text mask (all strategies)', () => {
    const texts = fc.oneof(textWithEntitiesArb.map((t) => t.text), soupArb);
    fc.assert(
      fc.property(texts, chunkSizesArb(), fc.constantFrom<Strategy>('redact', 'partial', 'hash'), (text, sizes, strategy) => {
        const m = masker(strategy);
        assert.equal(stream(m, splitBySizes(text, sizes)).join(''), m.mask(text).text);
      }),
      { numRuns: 600 },
    );
  });

  test('any split equals the whole-text mask with each detector alone (no detector covers for another)', () => {
    const texts = fc.oneof(textWithEntitiesArb.map((t) => t.text), soupArb);
    for (const detector of defaultDetectors()) {
      const m = new TextMasker({ detectors: [detector], strategy: 'redact', hashKey });
      fc.assert(
        fc.property(texts, chunkSizesArb(), (text, sizes) => {
          assert.equal(stream(m, splitBySizes(text, sizes)).join(''), m.mask(text).text, detector.entity);
        }),
        { numRuns: 150 },
      );
    }
  });

  test('one-code-unit chunks (even splitting surrogate pairs) give exactly the whole-text mask', () => {
    fc.assert(
      fc.property(textWithEntitiesArb, ({ text }) => {
        const m = masker();
        assert.equal(stream(m, splitBySizes(text, [1])).join(''), m.mask(text).text);
      }),
      { numRuns: 150 },
    );
  });

  test('no piece ever carries 6 characters of an inserted entity', () => {
    fc.assert(
      fc.property(textWithEntitiesArb, chunkSizesArb(), ({ text, entities }, sizes) => {
        const m = masker();
        const pieces = stream(m, splitBySizes(text, sizes));
        let around = text;
        for (const e of entities) around = around.split(e.secret).join('\u0000');
        for (const e of entities) {
          for (const g of grams(e.secret, around)) {
            for (const piece of pieces) {
              // Replacement markers are emitted whole; "[PRIVATE_KEY]" itself is no leak.
              assert.ok(!piece.replace(/\[[A-Z_]+\]/g, '\u0000').includes(g), `${e.entity} leaked "${g}" in ${JSON.stringify(piece)}`);
            }
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  test('every two-piece split of a dense sample', () => {
    const m = masker('partial');
    const text = 'to bob@example.com: card 4111-1111-1111-1111, SSN 123456789, IBAN DE89 3704 0044 0532 0130 00, '
      + 'key AKIAIOSFODNN7EXAMPLE, "api_key": "Xy7#pQ2vLm9zK", jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln, '
      + '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY----- at 10.1.2.3 or 2001:db8::7.';
    const whole = m.mask(text).text;
    for (let i = 0; i <= text.length; i++) assert.equal(stream(m, [text.slice(0, i), text.slice(i)]).join(''), whole, `split at ${i}`);
    for (const s of ['bob@example.com', '4111', 'AKIAIOSFODNN7EXAMPLE', 'b3BlbnNzaC1', 'DE89', 'Xy7#pQ2v']) assert.ok(!whole.includes(s), s);
  });

  test('emits as soon as it is safe: only a possible entity prefix is held', () => {
    const sm = new StreamMasker(masker());
    assert.equal(sm.push('mail bob@exa'), 'mail ');
    assert.equal(sm.push('mple.com now'), '[EMAIL] ');
    assert.equal(sm.push(' and then'), 'now and ');
    assert.equal(sm.heldLength, 'then'.length);
    assert.equal(sm.end(), 'then');
  });

  test('held text stays small on a long stream without entities', () => {
    fc.assert(
      fc.property(fc.array(fillerArb, { minLength: 200, maxLength: 400 }), chunkSizesArb(), (parts, sizes) => {
        const sm = new StreamMasker(masker());
        let maxHeld = 0;
        for (const c of splitBySizes(parts.join(' '), sizes)) {
          sm.push(c);
          maxHeld = Math.max(maxHeld, sm.heldLength);
        }
        sm.end();
        assert.ok(maxHeld <= 220, `held ${maxHeld}`);
      }),
      { numRuns: 30 },
    );
    // A 2 MB base64 blob (no entity) in 4 KiB chunks: the hold never exceeds one detector's reach.
    const sm = new StreamMasker(masker());
    const blob = Buffer.alloc(1_500_000, 'payload-0123456789').toString('base64');
    let maxHeld = 0;
    for (let i = 0; i < blob.length; i += 4096) {
      sm.push(blob.slice(i, i + 4096));
      maxHeld = Math.max(maxHeld, sm.heldLength);
    }
    assert.ok(maxHeld <= 4096 + 400, `held ${maxHeld}`);
    assert.equal(sm.end().length <= 400, true);
  });

  test('scanning work stays linear in the input, even for a big entity in 1-byte chunks', () => {
    let scanned = 0;
    const counter: Detector = { entity: 'SECRET', maxLength: 1, lookbehind: 0, find: (t) => { scanned += t.length; return []; }, pendingFrom: (t) => t.length };
    const m = new TextMasker({ detectors: [...defaultDetectors(), counter], strategy: 'redact', hashKey });
    const body = Array.from({ length: 100 }, (_, i) => `MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC${String(i).padStart(13, '0')}`).join('\n');
    const text = `prose bob@example.com and more prose `.repeat(200) + `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----` + ' tail';
    const pieces = stream(m, splitBySizes(text, [1]));
    assert.equal(pieces.join(''), m.mask(text).text);
    assert.ok(!pieces.join('').includes('MIIEvQ'));
    assert.ok(scanned < 60 * text.length, `scanned ${scanned} chars for ${text.length}`);
  });

  test('work per character is bounded whatever the text: digit-dense, base64 and prose in 4-character chunks', () => {
    let scanned = 0;
    const counted = (d: Detector): Detector => ({ ...d, find: (t) => { scanned += t.length; return d.find(t); }, pendingFrom: (t) => { scanned += t.length; return d.pendingFrom(t); } });
    const m = new TextMasker({ detectors: defaultDetectors().map(counted), strategy: 'redact', hashKey });
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const texts: Record<string, string> = {
      prose: 'The quick brown fox jumps over the lazy dog, again and again. '.repeat(400),
      base64: Buffer.alloc(20_000, 'xyzAB0123').toString('base64').slice(0, 25_000),
      wide: '漢字とかな４１１１\u200b '.repeat(2000),
    };
    for (const sep of ['', ' ', '-', '.', ':']) {
      let t = '';
      while (t.length < 25_000) t += String(Math.floor(rnd() * 1e4)).padStart(4, '0') + sep;
      texts[`digits ${JSON.stringify(sep)}`] = t;
    }
    const perChar: Record<string, number> = {};
    for (const [name, text] of Object.entries(texts)) {
      const whole = m.mask(text).text;
      scanned = 0;
      assert.equal(stream(m, splitBySizes(text, [4])).join(''), whole, name);
      perChar[name] = scanned / text.length;
    }
    // Every detector together reads each character ~75–110 times in 4-character chunks (it was
    // up to ~1 800 when every chunk rescanned the whole held window with every detector).
    for (const [name, n] of Object.entries(perChar)) assert.ok(n < 160, `${name}: ${n.toFixed(1)} characters scanned per character`);
  });

  test('fails closed past maxHoldBytes: throws, emits nothing held, stays failed', () => {
    const sm = new StreamMasker(masker(), { maxHoldBytes: 256 });
    const out: string[] = [sm.push('key: -----BEGIN RSA PRIVATE KEY-----\n')];
    assert.throws(() => { for (let i = 0; i < 50; i++) out.push(sm.push('MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n')); }, (e: unknown) => isGatehouseError(e, 'masking_failed'));
    assert.ok(!out.join('').includes('MIIE'));
    assert.ok(!out.join('').includes('BEGIN'));
    assert.throws(() => sm.push('x'), (e: unknown) => isGatehouseError(e, 'masking_failed'));
    assert.throws(() => sm.end(), (e: unknown) => isGatehouseError(e, 'masking_failed'));
  });

  test('invisible characters count toward the hold limit: a value padded with them fails closed, never leaks', () => {
    const sm = new StreamMasker(masker(), { maxHoldBytes: 4_096 });
    const out: string[] = [sm.push('card 4111 ')];
    assert.throws(() => { for (let i = 0; i < 100; i++) out.push(sm.push('\u200b'.repeat(100))); }, (e: unknown) => isGatehouseError(e, 'masking_failed'));
    assert.ok(!out.join('').includes('4111'));
    // Below the limit the padded value is masked whole, the invisible characters with it.
    const ok = new StreamMasker(masker());
    const text = `card 4111${'\u200b'.repeat(3_000)} 1111 1111 1111 ok`;
    const pieces = splitBySizes(text, [7]).map((c) => ok.push(c));
    pieces.push(ok.end());
    assert.equal(pieces.join(''), 'card [CREDIT_CARD] ok');
  });

  test('an unterminated private key is masked to the end of the stream', () => {
    const m = masker();
    const text = 'here: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n(stream cut)';
    const out = stream(m, splitBySizes(text, [5])).join('');
    assert.equal(out, 'here: [PRIVATE_KEY]');
  });

  test('push after end() throws; empty chunks are fine; summary counts types only', () => {
    const sm = new StreamMasker(masker());
    assert.equal(sm.push(''), '');
    assert.equal(sm.push('AKIAIOSFODNN7EXAMPLE and a@b.io '), '[SECRET] and [EMAIL] ');
    sm.end();
    assert.deepEqual(sm.summary(), { secret_types: ['SECRET'], secret_kinds: ['aws_access_key'], pii_types: ['EMAIL'], findings: 2 });
    assert.throws(() => sm.push('x'), (e: unknown) => isGatehouseError(e, 'internal'));
  });
});
