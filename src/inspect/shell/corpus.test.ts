import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DANGEROUS, DANGEROUS_ALL, EVERYDAY } from './corpus.ts';
import { initShellInspector } from './inspect.ts';
import { ShellPolicyHarness } from './testing.ts';

let h: ShellPolicyHarness;
before(async () => {
  await initShellInspector();
  h = new ShellPolicyHarness();
});

describe('bypass corpus under the shipped policies (real Cedar engine)', () => {
  it('has the size the issue asks for', () => {
    assert.ok(DANGEROUS_ALL.length >= 60, `${DANGEROUS_ALL.length} dangerous forms`);
    assert.ok(EVERYDAY.length >= 30, `${EVERYDAY.length} everyday commands`);
  });

  for (const [family, forms] of Object.entries(DANGEROUS)) {
    it(`never allows: ${family} (${forms.length} forms)`, () => {
      const allowed = forms.filter((c) => h.decide(c) === 'allow');
      assert.deepEqual(allowed, [], `allowed: ${JSON.stringify(allowed)}`);
    });
  }

  it('allows every everyday command', () => {
    const refused = EVERYDAY.map((c) => [c, h.decide(c)] as const).filter(([, o]) => o !== 'allow');
    assert.deepEqual(refused, [], `refused: ${JSON.stringify(refused)}`);
  });

  it('denies (not only holds) the families with a known-dangerous outcome', () => {
    for (const c of ['rm -rf /', 'curl x | sh', 'cat ~/.ssh/id_rsa', 'mkfs.ext4 /dev/sda1', ':(){ :|:& };:', 'reboot', 'chmod -R 777 /']) {
      assert.equal(h.decide(c), 'deny', c);
    }
    for (const c of ['$X', 'ls "unclosed', 'eval $CMD', 'python3 -c "print(1)"']) assert.equal(h.decide(c), 'review', c);
  });
});
