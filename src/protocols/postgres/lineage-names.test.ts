import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineageNames } from './lineage-names.ts';
import { StatementNames } from './statement-names.ts';

/** Definitions are plain strings here (the output lineage stores plans). */
const PHONE = 'phone';
const HARMLESS = 'harmless';

function followed(): { names: StatementNames; lineage: LineageNames<string> } {
  const names = new StatementNames();
  const lineage = new LineageNames<string>();
  names.follow(lineage);
  return { names, lineage };
}

describe('LineageNames', () => {
  test('a CLOSE the server skipped changes nothing: a re-DECLARE it refuses keeps the first plan', () => {
    const { names, lineage } = followed();
    lineage.stageQuery([{ op: 'define', space: 'cursor', name: 'c', value: PHONE }]);
    names.query([]);
    names.commandComplete(() => 'DECLARE CURSOR'); names.ready();
    assert.deepEqual(lineage.lookup('cursor', 'c'), [PHONE]);
    // SELECT 1/0; CLOSE c — the error comes first: CLOSE is skipped.
    lineage.stageQuery([{ op: 'drop', space: 'cursor', name: 'c' }]);
    names.query([]);
    names.error(); names.ready();
    assert.deepEqual(lineage.lookup('cursor', 'c'), [PHONE]);
    // DECLARE c … again: both count until the server answers; it refuses (c exists).
    lineage.stageQuery([{ op: 'define', space: 'cursor', name: 'c', value: HARMLESS }]);
    names.query([]);
    assert.deepEqual(lineage.lookup('cursor', 'c').sort(), [HARMLESS, PHONE]);
    names.error(); names.ready();
    assert.deepEqual(lineage.lookup('cursor', 'c'), [PHONE]);
    // A confirmed CLOSE frees it; a confirmed DECLARE replaces it.
    lineage.stageQuery([{ op: 'drop', space: 'cursor', name: 'c' }, { op: 'define', space: 'cursor', name: 'c', value: HARMLESS }]);
    names.query([]);
    names.commandComplete(() => 'CLOSE CURSOR');
    assert.deepEqual(lineage.lookup('cursor', 'c'), [HARMLESS], 'the new definition counts from when it is sent');
    names.commandComplete(() => 'DECLARE CURSOR'); names.ready();
    assert.deepEqual(lineage.lookup('cursor', 'c'), [HARMLESS]);
  });

  test('protocol: a Close or a Parse the server skipped changes nothing; inside a batch a Bind sees its Parse', () => {
    const { names, lineage } = followed();
    const cand = { sql: 'x', verdict: undefined };
    lineage.stageParse(PHONE, []); names.parse('p', cand); names.sync(); names.parseComplete(); names.ready();
    lineage.stageParse(PHONE, []); names.parse('', cand); names.sync(); names.parseComplete(); names.ready();
    names.close('p', true);
    assert.deepEqual(lineage.lookup('prepared', 'p'), [], 'a Bind after a Close in its batch is skipped or unknown');
    lineage.stageParse(HARMLESS, []); names.parse('', cand);
    assert.deepEqual(lineage.lookup('prepared', ''), [HARMLESS], 'a Bind after a Parse in its batch runs that Parse');
    names.sync();
    assert.deepEqual(lineage.lookup('prepared', '').sort(), [HARMLESS, PHONE], 'unanswered: either');
    names.error(); names.ready(); // the Close and the Parse were skipped
    assert.deepEqual(lineage.lookup('prepared', 'p'), [PHONE]);
    assert.deepEqual(lineage.lookup('prepared', ''), [PHONE]);
    names.close('p', true); names.sync(); names.closeComplete(); names.ready();
    assert.deepEqual(lineage.lookup('prepared', 'p'), []);
    assert.equal(lineage.has('prepared', 'p'), false);
  });

  test('DEALLOCATE ALL and DISCARD ALL drop names once confirmed; a tag out of order applies nothing more', () => {
    const { names, lineage } = followed();
    lineage.stageQuery([{ op: 'define', space: 'prepared', name: 'p', value: PHONE }, { op: 'define', space: 'cursor', name: 'c', value: PHONE }]);
    names.query([]);
    names.commandComplete(() => 'PREPARE'); names.commandComplete(() => 'DECLARE CURSOR'); names.ready();
    assert.equal(lineage.size('prepared') + lineage.size('cursor'), 2);
    lineage.stageQuery([{ op: 'drop', space: 'prepared', name: 'p' }, { op: 'define', space: 'prepared', name: 'q', value: HARMLESS }]);
    names.query([]);
    names.commandComplete(() => 'PREPARE'); // not the DEALLOCATE expected first
    names.ready();
    assert.deepEqual(lineage.lookup('prepared', 'p'), [PHONE], 'the drop is not applied');
    assert.deepEqual(lineage.lookup('prepared', 'q'), [HARMLESS], 'the definition counts for good');
    lineage.stageQuery([{ op: 'drop-all', space: 'all' }]);
    names.query([]);
    names.commandComplete(() => 'DISCARD ALL'); names.ready();
    assert.deepEqual(lineage.lookup('prepared', 'p'), []);
    assert.deepEqual(lineage.lookup('cursor', 'c'), []);
  });

  test('definitions in a Parse text count for good; cursors without hold go at the end of a transaction', () => {
    const { names, lineage } = followed();
    lineage.stageParse(undefined, [{ op: 'define', space: 'cursor', name: 'c', value: PHONE }]);
    names.parse('d', { sql: 'DECLARE c CURSOR FOR …', verdict: undefined }); names.sync(); names.parseComplete(); names.ready();
    assert.deepEqual(lineage.lookup('prepared', 'd'), [], 'a statement without a plan is unknown');
    lineage.stageQuery([{ op: 'drop', space: 'cursor', name: 'c' }]);
    names.query([]); names.commandComplete(() => 'CLOSE CURSOR'); names.ready();
    assert.deepEqual(lineage.lookup('cursor', 'c'), [PHONE], 'the Execute that declares it may come later');
    lineage.retainCursors((v) => v !== PHONE);
    assert.deepEqual(lineage.lookup('cursor', 'c'), []);
  });
});
