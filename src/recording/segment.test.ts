import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalData } from './event-hash.ts';
import { decodeBody, encodeBody, encodeBodyV1, type BodyEvent } from './segment.ts';
import { Utf8Writer } from './utf8-writer.ts';

const label = fc.option(fc.string({ unit: 'binary', maxLength: 12 }), { nil: null });
const hex = fc.string({ unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'), minLength: 64, maxLength: 64 });
const event: fc.Arbitrary<BodyEvent> = fc.record({
  session: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  at: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
  type: fc.constantFrom('session.open', 'request', 'decision', 'response', 'session.close', 'truncated'),
  user: label, agent: label, prevHash: hex, hash: hex,
  // Data holding tabs, newlines, quotes, backslashes, NUL and any code point (lone surrogates too):
  // its canonical text escapes what must be.
  data: fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.constant('a\u0000b\ud800c\tx\ny'), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null))),
}).map(({ data, ...e }) => ({ ...e, text: canonicalData(data) }));

test('a body decodes to exactly the events encoded, in order (zstd, format 2)', () => {
  fc.assert(fc.property(fc.array(event, { minLength: 0, maxLength: 20 }), (events) => {
    const body = encodeBody(events);
    assert.equal(body[0], 2);
    assert.deepEqual(decodeBody(body), events);
  }), { numRuns: 300 });
});

test('bodies written before session 12 (raw DEFLATE, format 1) still decode', () => {
  fc.assert(fc.property(fc.array(event, { minLength: 0, maxLength: 20 }), (events) => {
    const old = encodeBodyV1(events);
    assert.equal(old[0], 1);
    assert.deepEqual(decodeBody(old), events);
  }), { numRuns: 200 });
  // A fixed format-1 body as an earlier version wrote it (bytes captured from session 11's encoder).
  const fixed = Buffer.from('AYtWKtbNz0lR0jHUUTIyMDLTNTTSNTAMMTCwAiM9AwODKFDCRs7DOkqJOZnJqVCjlAwoBEo6SokUAqVYTqifDWu54F4ywuUlQ5CXYCUPmm8odEmiko5SEoUA7BtEqUFUMWOohORxY1weN0KOS0gJjOZ9Cp2epKSjlEwhAHm/lgsA', 'base64');
  const decoded = decodeBody(fixed);
  assert.deepEqual(decoded.map((e) => [e.session, e.seq, e.type, e.user, e.agent, e.text, e.hash[0]]), [
    ['s-old', 1, 'session.open', 'alice', null, '{"pid":1}', 'a'],
    ['s-old', 2, 'request', 'alice', null, '{"message":"parse","name":"","statement":"SELECT 1"}', 'b'],
    ['s-old', 3, 'session.close', 'alice', null, '{}', 'c'],
  ]);
});

test('a zstd body cut short or of an unknown format does not decode; one with a flipped bit never decodes to other events', () => {
  fc.assert(fc.property(fc.array(event, { minLength: 1, maxLength: 10 }), fc.nat(), fc.nat({ max: 7 }), (events, at, bit) => {
    const body = encodeBody(events);
    const cut = body.subarray(0, 1 + (at % (body.length - 1)));
    assert.throws(() => decodeBody(cut));
    const flipped = Buffer.from(body);
    const i = 1 + (at % (body.length - 1));
    flipped[i]! ^= 1 << bit;
    // The frame carries a checksum of its content: a flip either fails to decode, or falls on a
    // bit the content does not depend on and decodes to exactly the same events (never to other
    // events; verification would catch those against the chain anyway).
    let out: BodyEvent[] | undefined;
    try { out = decodeBody(flipped); } catch { out = undefined; }
    if (out !== undefined) assert.deepEqual(out, events);
  }), { numRuns: 300 });
  assert.throws(() => decodeBody(Buffer.of(3, 0, 0)), /unknown body format/);
});

test('Utf8Writer writes what Buffer.from writes, across growth, and gives back an oversized buffer', () => {
  fc.assert(fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 3000 }), { maxLength: 40 }), (parts) => {
    const w = new Utf8Writer(16);
    w.reset();
    for (const p of parts) { w.put(p); w.byte(0x0a); }
    assert.deepEqual(w.bytes(), Buffer.from(parts.map((p) => `${p}\n`).join(''), 'utf8'));
  }), { numRuns: 100 });
  const w = new Utf8Writer();
  w.reset();
  w.put('x'.repeat(3 << 20));
  assert.equal(w.length, 3 << 20);
  w.reset();
  assert.equal(w.length, 0);
  w.put('\ud800');
  assert.deepEqual(w.bytes(), Buffer.from('\ud800', 'utf8'));
});
