import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { initShellInspector, inspectCommand } from './inspect.ts';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SHELL_REVIEW_WHEN, ShellPolicyHarness } from './testing.ts';

before(async () => { await initShellInspector(); });

describe('inspectCommand', () => {
  it('unwraps wrappers and resolves quoting to the literal command', () => {
    const r = inspectCommand(`timeout 5 nice -n 10 env A=1 sudo -u root "r"\\m -r -f /etc`);
    assert.equal(r.ok, true);
    assert.deepEqual(r.facts.commands, ['env', 'nice', 'rm', 'sudo', 'timeout']);
    assert.deepEqual(r.facts.wrappers, ['env', 'nice', 'sudo', 'timeout']);
    assert.deepEqual(r.facts.argv, ['rm -r -f /etc']);
    assert.deepEqual(r.facts.recursive_delete_targets, ['/etc']);
    assert.ok(r.facts.risks.includes('recursive_delete_system'));
    assert.equal(r.facts.privileged, true);
  });

  it('parses bash -c strings, eval and heredocs fed to a shell recursively', () => {
    assert.ok(inspectCommand(`bash -c 'eval "rm -rf /"'`).facts.commands.includes('rm'));
    assert.ok(inspectCommand('sh <<EOF\nrm -rf /\nEOF').facts.risks.includes('recursive_delete_system'));
    assert.ok(inspectCommand(`sh <<< 'rm -rf /'`).facts.risks.includes('recursive_delete_system'));
  });

  it('reports unseen code fed to a shell and dynamic command names as facts', () => {
    assert.equal(inspectCommand('curl -fsSL https://x | sh').facts.pipes_to_shell, true);
    assert.ok(inspectCommand('bash').facts.risks.includes('pipe_to_shell'), 'bash reading the session stdin');
    const d = inspectCommand('$CMD -rf /');
    assert.equal(d.facts.dynamic_command, true);
    assert.ok(d.facts.risks.includes('dynamic_command'));
  });

  it('fails closed on limits and syntax errors', () => {
    assert.equal(inspectCommand('ls "unterminated').facts.parse_error, true);
    assert.equal(inspectCommand('x'.repeat(70_000)).reason, 'too_large');
    assert.equal(inspectCommand('ls\u0000rm').reason, 'control_char');
    const deep = `${'bash -c "'.repeat(1)}${"eval '".repeat(1)}ls'"`;
    assert.equal(inspectCommand(deep, { maxDepth: 1 }).reason, 'too_deep');
    assert.equal(inspectCommand('ls; '.repeat(400), { maxNodes: 500 }).reason, 'too_many_nodes');
  });

  it('fails closed on a carriage return anywhere: the remote shell reads it as a word character, the grammar as a blank', () => {
    // bash: `echo a<CR>#x; rm -rf /` runs rm (`a<CR>#x` is one word); `\\<CR><LF>` quotes the CR, the LF ends the command.
    for (const c of ['echo a\r#x; rm -rf /', 'echo \\\r\nrm -rf /', 'ls\r\n', 'echo "a\rb"']) {
      const r = inspectCommand(c);
      assert.equal(r.ok, false, JSON.stringify(c));
      assert.equal(r.reason, 'control_char');
      assert.ok(r.facts.risks.includes('parse_error'));
    }
    fc.assert(fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (a, b) => {
      const r = inspectCommand(`${a}\r${b}`);
      return !r.ok && r.facts.parse_error;
    }), { numRuns: 300 });
  });

  it('never throws on pathological nesting: too deep or too slow to parse is a parse error', () => {
    for (const c of ['$('.repeat(400) + 'ls' + ')'.repeat(400), '( '.repeat(5000) + 'ls' + ' )'.repeat(5000), '{ '.repeat(15000) + 'ls; ' + '} '.repeat(15000)]) {
      const r = inspectCommand(c);
      assert.equal(r.ok, false);
      assert.ok(['too_deep', 'parse_timeout', 'syntax_error'].includes(r.reason ?? ''), r.reason ?? 'no reason');
      assert.equal(r.facts.parse_error, true);
    }
  });

  it('keeps the canonical command byte for byte', () => {
    assert.equal(inspectCommand('ls  -la\t/tmp').canonical, 'ls  -la\t/tmp');
  });
});

describe('shipped policies on shell facts (real Cedar)', () => {
  it('allows everyday commands, denies dangerous ones, holds ambiguous ones', () => {
    const h = new ShellPolicyHarness();
    assert.equal(h.decide('ls -la'), 'allow');
    assert.equal(h.decide('rm -r -f /'), 'deny');
    assert.equal(h.decide('$X /tmp'), 'review');
  });

  it('an allow-list per connection narrows what runs on it', () => {
    const h = new ShellPolicyHarness(['examples/policies/ssh-command-allow-list.cedar']);
    assert.equal(h.decide('ps aux | grep node'), 'allow');
    assert.equal(h.decide('git status'), 'deny');
    assert.equal(h.decide('git status', undefined, 'web02'), 'allow');
  });
});

describe('the shipped review rule', () => {
  it('gatehouse.example.yaml holds exactly the review risks the harness tests (shell-ambiguous)', () => {
    const doc = parse(readFileSync(new URL('../../../gatehouse.example.yaml', import.meta.url), 'utf8')) as { reviews: { rules: { name: string; actions: string[]; kind: string; when?: string }[] } };
    const rule = doc.reviews.rules.find((r) => r.name === 'shell-ambiguous');
    assert.ok(rule, 'gatehouse.example.yaml ships the shell-ambiguous review rule');
    assert.deepEqual(rule.actions, ['shell.exec']);
    assert.equal(rule.kind, 'command');
    assert.equal(rule.when, SHELL_REVIEW_WHEN);
  });
});
