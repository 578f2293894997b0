import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StatementNames, type Candidate } from './statement-names.ts';
import type { Verdict } from '../../sql/guard.ts';

const ok: Verdict = { ok: true, actions: ['sql.read'], facts: { kinds: ['read'], tables: [], functions: [], dangerous_functions: [], statements: 1, has_where: true, data_modifying_cte: false, do_block: false, copy_program: false } };
const read: Candidate = { sql: 'SELECT 1', verdict: ok };
const write: Candidate = { sql: 'DELETE FROM t', verdict: undefined };
const sqls = (n: StatementNames, name: string): string[] | undefined => {
  const l = n.lookup(name);
  return l.known ? l.candidates.map((c) => c.sql).sort() : undefined;
};

describe('StatementNames', () => {
  test('confirmed runs when the server confirms a drop; skipped when it skips or refuses a definition', () => {
    const n = new StatementNames();
    const seen: string[] = [];
    n.parse('a', read, () => seen.push('parse a skipped')); n.sync(); n.parseComplete(); n.ready();
    n.query([{ op: 'deallocate', name: 'a', confirmed: () => seen.push('a dropped') }, { op: 'prepare', name: 'b', cand: write, skipped: () => seen.push('b skipped') }]);
    n.commandComplete(() => 'DEALLOCATE');
    n.error(); n.ready();
    n.close('c', true, () => seen.push('c closed')); n.sync(); n.closeComplete(); n.ready();
    n.parse('d', read, () => seen.push('parse d skipped')); n.sync(); n.error(); n.ready();
    n.query([{ op: 'prepare', name: 'e', cand: write, skipped: () => seen.push('e skipped') }]);
    n.commandComplete(() => 'DEALLOCATE'); // not what was expected: nothing is known of it
    n.ready();
    assert.deepEqual(seen, ['a dropped', 'b skipped', 'c closed', 'parse d skipped']);
  });
  test('a definition counts when sent, alone once confirmed', () => {
    const n = new StatementNames();
    n.parse('s', write); n.sync(); n.parseComplete(); n.ready();
    n.parse('s', read); n.sync();
    assert.deepEqual(sqls(n, 's'), ['DELETE FROM t', 'SELECT 1'], 'unconfirmed: both');
    n.parseComplete(); n.ready();
    assert.deepEqual(sqls(n, 's'), ['SELECT 1']);
  });
  test('messages skipped after an error change nothing; inside the batch a Bind sees its Parse', () => {
    const n = new StatementNames();
    n.parse('', write); n.sync(); n.parseComplete(); n.ready();
    n.parse('', read);
    assert.deepEqual(sqls(n, ''), ['SELECT 1'], 'same batch: the new Parse or nothing');
    n.close('q', true);
    assert.equal(sqls(n, 'q'), undefined);
    n.sync();
    n.error(); n.ready(); // the server skipped both
    assert.deepEqual(sqls(n, ''), ['DELETE FROM t']);
  });
  test('SQL PREPARE / DEALLOCATE apply on their CommandComplete, in order; a failed Query applies nothing more', () => {
    const n = new StatementNames();
    n.query([{ op: 'deallocate', name: 'w' }, { op: 'prepare', name: 'w', cand: write }]);
    assert.deepEqual(sqls(n, 'w'), ['DELETE FROM t']);
    n.commandComplete(() => 'DEALLOCATE');
    n.error(); n.ready();
    assert.equal(sqls(n, 'w'), undefined, 'deallocated; the PREPARE never ran');
    n.query([{ op: 'prepare', name: 'w', cand: write }]); n.commandComplete(() => 'PREPARE'); n.ready();
    n.query([{ op: 'deallocate-all' }]); n.commandComplete(() => 'DISCARD ALL'); n.ready();
    assert.equal(sqls(n, 'w'), undefined);
  });
  test('property: a definition sent and not known to be gone is always among the candidates', () => {
    type Step = { kind: 'parse'; name: string; write: boolean } | { kind: 'close'; name: string } | { kind: 'sync' } | { kind: 'answer'; fail: boolean };
    const name = fc.constantFrom('', 'a', 'b');
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('parse' as const), name, write: fc.boolean() }),
      fc.record({ kind: fc.constant('close' as const), name }),
      fc.constant({ kind: 'sync' as const }),
      fc.record({ kind: fc.constant('answer' as const), fail: fc.boolean() }),
    );
    fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      // Model of the server: pending messages answered in order; an error skips to Sync.
      const n = new StatementNames();
      const server = new Map<string, string>();
      const queue: Step[] = [];
      let skipping = false;
      for (const s of steps) {
        if (s.kind === 'parse') { n.parse(s.name, s.write ? write : read); queue.push(s); }
        else if (s.kind === 'close') { n.close(s.name, true); queue.push(s); }
        else if (s.kind === 'sync') { n.sync(); queue.push(s); }
        else {
          const q = queue.shift();
          if (!q) continue;
          if (q.kind === 'sync') { skipping = false; n.ready(); continue; }
          if (skipping) continue;
          if (q.kind === 'parse') {
            if (s.fail || (q.name !== '' && server.has(q.name))) { skipping = true; n.error(); if (q.name === '') server.delete(''); continue; }
            server.set(q.name, (q.write ? write : read).sql); n.parseComplete();
          } else if (q.kind === 'close') { server.delete(q.name); n.closeComplete(); }
        }
        // What a Bind sent now may run: the server's current definition must be a candidate,
        // unless an earlier message of the current batch will change it first, or the server is
        // skipping to the next Sync after an error (a Bind sent now would not run at all).
        if (skipping) continue;
        for (const nm of ['', 'a', 'b']) {
          const real = server.get(nm);
          const pendingInBatch = queue.slice(queue.map((x) => x.kind).lastIndexOf('sync') + 1).some((x) => (x.kind === 'parse' || x.kind === 'close') && x.name === nm);
          if (real === undefined || pendingInBatch) continue;
          const got = sqls(n, nm);
          assert.ok(got?.includes(real), `${nm}: server runs ${real}, gateway thinks ${JSON.stringify(got)}`);
        }
      }
    }), { numRuns: 500 });
  });
});
