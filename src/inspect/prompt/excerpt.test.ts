import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextMasker, defaultDetectors } from '../../masking/text-masker.ts';
import { MAX_WALKED_CHARS, maskedExcerpt } from './excerpt.ts';

const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 1) });
const AWS = 'AKIA' + 'Q3EGRVH2LXJ7KZ4N';
const b64 = Buffer.from(`key ${AWS}`).toString('base64');

test('a JSON document is walked whole and cut after masking: an encoded payload past the cut is not kept', () => {
  const doc = JSON.stringify({ pad: 'x'.repeat(70_000), k: b64 });
  const out = maskedExcerpt(doc, scanner, 64 * 1024);
  assert.ok(out.length <= 64 * 1024);
  assert.ok(!out.includes(b64.slice(0, 20)) && !out.includes(AWS), out.slice(-200));
});

test('a document too large to walk on the event loop is not kept at all (fail closed), and says so', () => {
  const doc = JSON.stringify({ k: b64, pad: 'x'.repeat(MAX_WALKED_CHARS) });
  const t0 = performance.now();
  const out = maskedExcerpt(doc, scanner, 64 * 1024);
  assert.ok(performance.now() - t0 < 1000);
  assert.match(out, /^\[not recorded: a JSON document of \d+ characters/);
  assert.ok(!out.includes(b64.slice(0, 20)));
});

test('text that is not one document is masked with its escapes decoded', () => {
  assert.equal(maskedExcerpt('write to bob%40example.com', scanner, 1024), 'write to [EMAIL]');
  assert.equal(maskedExcerpt('{"cut": "bob\\u0040example.com', scanner, 1024).includes('bob'), false);
});

test('a document the walk refuses (nested too deeply) is not kept as text either: its payloads would stay encoded', () => {
  const doc = `${'['.repeat(2000)}${JSON.stringify(b64)}${']'.repeat(2000)}`;
  const out = maskedExcerpt(doc, scanner, 64 * 1024);
  assert.match(out, /^\[not recorded: a JSON document of \d+ characters that the recording's walk cannot inspect\]$/);
  assert.ok(!out.includes(b64.slice(0, 20)));
});
