import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { sedScript } from './analyse.ts';
import { initShellInspector } from './inspect.ts';
import { ShellPolicyHarness } from './testing.ts';

describe('sedScript (red team round 2)', () => {
  it('finds the e command, the s///e flag, w/W targets and r reads', () => {
    assert.equal(sedScript('s/.*/x/e').exec, true);
    assert.equal(sedScript('1e id').exec, true);
    assert.equal(sedScript('1!G;h;$e x').exec, true);
    assert.deepEqual(sedScript('w /etc/cron.d/x').writes, ['/etc/cron.d/x']);
    assert.deepEqual(sedScript('s/a/b/gw /etc/passwd').writes, ['/etc/passwd']);
    assert.deepEqual(sedScript('/x/r /etc/shadow').reads, ['/etc/shadow']);
    assert.deepEqual(sedScript('\\#a#W out.txt').writes, ['out.txt']);
    // The delimiter inside a bracket expression does not end the regex.
    assert.equal(sedScript('s/[[:alpha:]/]/x/e').exec, true);
    assert.equal(sedScript('s/[/]/x/;e id').exec, true);
  });
  it('leaves ordinary scripts alone', () => {
    for (const s of ['1,20p', '/error/p', 's/foo/bar/g', 's#a/b#c#g; 3q', '/^#/d', 'y/abc/xyz/', 's/[/]/x/g', 's/[[:space:]]*$//', ':a;N;$!ba;s/\\n/ /g', '$a\\\nend']) {
      const e = sedScript(s);
      assert.deepEqual({ exec: e.exec, writes: e.writes, unknown: e.unknown }, { exec: false, writes: [], unknown: false }, s);
    }
  });
  it('marks what it cannot parse as unknown', () => {
    assert.equal(sedScript('s/unterminated').unknown, true);
    assert.equal(sedScript('K').unknown, true);
  });
});

let h: ShellPolicyHarness;
before(async () => {
  await initShellInspector();
  h = new ShellPolicyHarness();
});

describe('decisions (red team round 2)', () => {
  it('denies the forms with a known outcome', () => {
    for (const c of ['loginctl reboot', 'systemctl start reboot.target', 'a(){ b|b& }; b(){ a|a& }; a', 'aws configure export-credentials',
      'gcloud auth print-access-token', 'kubectl config view --raw', 'pkill -u root']) {
      assert.equal(h.decide(c), 'deny', c);
    }
  });
  it('holds the ambiguous ones', () => {
    for (const c of ["sed -n 's/^/x/e' f", "find /usr -name '*.so*' -delete", 'find /etc -type f | xargs rm', 'cat /dev/mem',
      'find ~ -name id_rsa | xargs cat', "find ~ -name '*' -delete", 'while :; do sleep 100 & done', "vim -c ':!id'", 'kubectl exec -it pod -- sh']) {
      assert.notEqual(h.decide(c), 'allow', c);
    }
  });
  it('still allows the near misses', () => {
    for (const c of ['docker run --rm -v /srv/data:/data alpine ls', 'docker build -t credential-svc .', 'kubectl get secrets -n web',
      'git switch -c feature', 'git -C repo status', 'vim --version', 'man ls', 'less README.md', "sed -n '/w/p' f",
      'systemctl restart nginx', 'kill -HUP 1234', 'pkill -u deploy node', 'find /var/log -name "*.gz" -mtime +30',
      'while read l; do echo "$l"; done < f', 'lsblk /dev/sda', "find /tmp -name '*.tmp' -delete", "sed -n '/x/w /dev/stdout' f"]) {
      assert.equal(h.decide(c), 'allow', c);
    }
  });
});
