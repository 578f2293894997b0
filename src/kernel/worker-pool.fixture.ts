/** A worker for worker-pool.test.ts: echoes, throws, spins or dies on demand. */
import { serveTasks } from './worker-serve.ts';

serveTasks((p: { op: 'echo' | 'throw' | 'spin' | 'crash'; value?: number }) => {
  if (p.op === 'throw') throw Object.assign(new Error('task failed on purpose'), { code: 'bad_request' });
  if (p.op === 'crash') process.exit(3);
  if (p.op === 'spin') for (;;) { /* never returns: the pool's deadline must end it */ }
  return { value: (p.value ?? 0) * 2 };
});
