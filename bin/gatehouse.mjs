// The CLI's entry point, in plain JavaScript so that any Node.js runs it far enough to say, in
// one line, what is wrong: the CLI itself is TypeScript, which Node runs only from 22.18 on.
// It also turns on Node's compile cache (repeated CLI calls start several times faster) and
// makes a closed stdout (`gatehouse … | head`) end the process quietly.
import { lstatSync, mkdirSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';

const MIN = [22, 18];
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < MIN[0] || (major === MIN[0] && minor < MIN[1])) {
  process.stderr.write(`gatehouse: Node.js >= ${MIN.join('.')} is required and this is ${process.version}; `
    + 'run npm install in the repository (it brings the pinned Node 24), or install a newer Node.js\n');
  process.exit(1);
}
if (typeof module.enableCompileCache === 'function' && process.env.NODE_DISABLE_COMPILE_CACHE === undefined) {
  try {
    // The cache holds code Node runs (TypeScript already stripped), so it must be a directory only
    // this account can write: Node's default, <tmp>/node-compile-cache, is shared by every account
    // of the machine, and anyone able to write there could have the gateway run their code. An
    // operator's NODE_COMPILE_CACHE is theirs to choose; otherwise a directory of our own under
    // the temporary directory, used only if it is ours, not a link, and writable by no one else.
    let dir = process.env.NODE_COMPILE_CACHE;
    if (dir === undefined && typeof process.getuid === 'function') {
      const own = join(tmpdir(), `gatehouse-compile-cache-${process.getuid()}`);
      try { mkdirSync(own, { mode: 0o700 }); } catch (err) { if (err?.code !== 'EEXIST') throw err; }
      const st = lstatSync(own);
      if (st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o077) === 0) dir = own;
    }
    if (dir !== undefined) {
      const { directory } = module.enableCompileCache(dir);
      // Worker threads (the embedded store's, the inspection workers) and child processes read the
      // variable at their start: with it they load their TypeScript from the cache too, instead of
      // each loading Node's TypeScript stripper (~5 MiB resident per thread that loads it).
      if (directory) process.env.NODE_COMPILE_CACHE = dir;
    }
  } catch { /* the cache is an optimization only: without it, the gateway runs the same */ }
}
let cli;
try {
  cli = await import('../src/cli/main.ts');
} catch (err) {
  process.stderr.write(`gatehouse: cannot load the CLI (${String(err && err.message || err).split('\n')[0]}); run npm install\n`);
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
