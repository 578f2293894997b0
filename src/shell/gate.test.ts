import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDetectors, TextMasker } from '../masking/text-masker.ts';
import { commandSummary, splitJustification, SUMMARY_LIMIT } from './gate.ts';

const scanner = new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey: Buffer.alloc(32, 1) });

test('approvers see line breaks as line breaks: a second command is never folded into the first one\'s arguments', () => {
  assert.equal(commandSummary(scanner, 'echo ok\nrm -rf /srv/data'), 'echo ok␤rm -rf /srv/data');
  assert.equal(commandSummary(scanner, 'echo ok\r\nid\rwho'), 'echo ok␤id␍who');
  assert.equal(commandSummary(scanner, 'a\u0000b\u001bc\td'), 'a�b�c\td');
});

test('a short command is shown whole; a long one is cut and the summary says so first', () => {
  assert.equal(commandSummary(scanner, 'ls -la /var/log'), 'ls -la /var/log');
  const exact = `echo ${'a'.repeat(SUMMARY_LIMIT - 5)}`;
  assert.equal(commandSummary(scanner, exact), exact);
  const long = `echo ${'a'.repeat(3000)}; rm -rf /srv/data`;
  const s = commandSummary(scanner, long);
  assert.match(s, new RegExp(`^\\[command cut: the first ${SUMMARY_LIMIT} of ${long.length} characters are shown; approving runs all of it\\] echo a`));
  assert.ok(!s.includes('rm -rf'), 'the tail is not shown…');
  assert.ok(s.length < 2000, 'and the summary fits the review store (2000 characters)');
});

test('secrets in a held command are masked in the summary', () => {
  const s = commandSummary(scanner, 'curl -H "x: AKIAIOSFODNN7EXAMPLE" mail bob@example.com');
  assert.ok(!s.includes('AKIAIOSFODNN7EXAMPLE') && !s.includes('bob@example.com'), s);
});

test('the justification prefix is split off the command', () => {
  assert.deepEqual(splitJustification('# gatehouse-justification: ticket 42\nrm -rf /tmp/x'), { command: 'rm -rf /tmp/x', justification: 'ticket 42' });
  assert.deepEqual(splitJustification('ls'), { command: 'ls' });
});
