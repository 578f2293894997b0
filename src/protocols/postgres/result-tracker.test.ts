import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FieldDescription } from './backend-messages.ts';
import { ResultTracker, ShapeError } from './result-tracker.ts';

const col = (name: string, typeOid = 25, format = 0): FieldDescription => ({ name, tableOid: 0, attnum: 0, typeOid, typeSize: -1, typeMod: -1, format });

test('an Execute is described right before it: by Gatehouse (hidden) unless the client just did', () => {
  const t = new ResultTracker();
  assert.equal(t.execute(''), true, 'no Describe before: Gatehouse sends one');
  t.sync();
  assert.equal(t.rowDescription([col('email', 25, 1)]), true, 'its answer is hidden');
  assert.deepEqual(t.shape()?.formats, [1]);
  assert.equal(t.shape()?.fields[0]?.name, 'email');
  t.completed();
  t.ready();
  t.describe('P', 'p');
  assert.equal(t.execute('p'), false, 'the client described this portal just before');
  t.sync();
  assert.equal(t.rowDescription([col('a')]), false, 'the client sees its own answer');
  assert.equal(t.shape()?.fields[0]?.name, 'a');
});

test('anything forwarded between Describe and Execute breaks the link (a Bind may replace the portal)', () => {
  const t = new ResultTracker();
  t.describe('P', '');
  t.interrupt();
  assert.equal(t.execute(''), true);
  t.describe('P', 'x');
  assert.equal(t.execute('y'), true, 'another portal');
  t.describe('S', 's');
  assert.equal(t.execute('s'), true, 'a statement description never serves an Execute');
  t.describe('P', 'q');
  t.query();
  assert.equal(t.execute('q'), true, 'a Query in between (DECLARE/CLOSE) breaks it');
});

test('no shape is remembered by name: a stale description never serves a later Execute', () => {
  const t = new ResultTracker();
  t.describe('P', 'c');
  t.sync();
  t.rowDescription([col('n', 23)]);
  t.ready();
  assert.equal(t.execute('c'), true, 'described in an earlier batch: described again');
  t.sync();
  assert.equal(t.shape(), undefined, 'unknown until its own Describe answers');
  t.rowDescription(null);
  assert.equal(t.shape(), undefined, 'NoData: a row would have no shape (the statement fails)');
});

test('simple Query rows follow their RowDescription; an unexplained description throws; errors skip to Sync', () => {
  const t = new ResultTracker();
  t.query();
  t.rowDescription([col('x')]);
  assert.equal(t.shape()?.fields.length, 1);
  t.completed();
  assert.equal(t.shape(), undefined);
  t.ready();
  assert.throws(() => t.rowDescription([col('x')]), ShapeError);
  t.execute('a');
  t.execute('b');
  t.sync();
  t.error();
  t.ready();
  t.query();
  t.rowDescription([col('y')]);
  assert.equal(t.shape()?.fields[0]?.name, 'y');
});
