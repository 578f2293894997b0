import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameReader } from './frame-reader.ts';

function message(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

test('frames come out whole and in order at any chunking', () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.integer({ min: 0x41, max: 0x5a }), fc.uint8Array({ maxLength: 300_000 })), { minLength: 1, maxLength: 6 }),
    fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 20 }),
    (msgs, cuts) => {
      const stream = Buffer.concat(msgs.map(([t, b]) => message(t, Buffer.from(b))));
      const r = new FrameReader();
      const got: { type: number; body: Buffer }[] = [];
      let pos = 0;
      let i = 0;
      while (pos < stream.length) {
        const n = cuts[i++ % cuts.length]!;
        for (const f of r.push(stream.subarray(pos, pos + n))) got.push({ type: f.type, body: Buffer.from(f.body) });
        pos += n;
      }
      assert.equal(got.length, msgs.length);
      msgs.forEach(([t, b], k) => {
        assert.equal(got[k]!.type, t);
        assert.ok(got[k]!.body.equals(Buffer.from(b)));
      });
      assert.equal(r.buffered, 0);
    },
  ), { numRuns: 60 });
});

test('a peer that declares a large message holds memory for what it sent, not for what it declared', () => {
  const r = new FrameReader({ maxMessage: 64 * 1024 * 1024 });
  const head = Buffer.alloc(5);
  head[0] = 0x51;
  head.writeInt32BE(60 * 1024 * 1024, 1);
  assert.deepEqual(r.push(Buffer.concat([head, Buffer.from('SEL')])), []);
  assert.equal(r.buffered, 8);
  assert.ok(r.capacity <= 64 * 1024, `holds ${r.capacity} bytes for 8 received`);
  // As bytes arrive the buffer grows with them (at most twice what was received).
  for (let i = 0; i < 16; i++) r.push(Buffer.alloc(64 * 1024, 0x41));
  assert.ok(r.capacity <= 2 * r.buffered, `holds ${r.capacity} bytes for ${r.buffered} received`);
});

test('a split header followed by a large body still assembles one frame', () => {
  const body = Buffer.alloc(300_000, 7);
  const m = message(0x44, body);
  const r = new FrameReader();
  assert.deepEqual(r.push(m.subarray(0, 3)), []);
  assert.deepEqual(r.push(m.subarray(3, 9)), []);
  const out = r.push(m.subarray(9));
  assert.equal(out.length, 1);
  assert.ok(out[0]!.body.equals(body));
  assert.ok(out[0]!.raw.equals(m));
});
