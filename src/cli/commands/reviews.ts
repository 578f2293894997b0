import { parseDuration } from '../../kernel/duration.ts';
import { parse, UsageError, type Command } from '../args.ts';
import { ApiClient } from '../client.ts';
import { table } from '../table.ts';

interface Actor { kind: string; id: string; agent?: string }
interface ReviewRecord {
  id: string; kind: string; status: string; rule: string; connection: string; action: string; requester: Actor;
  summary: string; approvals: unknown[]; min_approvals: number; created_at: string; expires_at: string; reason?: string;
  decided_by?: Actor;
}

const who = (a: Actor | undefined): string => (a === undefined ? '-' : a.agent === undefined ? a.id : `${a.id} via ${a.agent}`);
const short = (s: string, n = 60): string => { const one = s.replace(/\s+/g, ' '); return one.length <= n ? one : `${one.slice(0, n - 1)}…`; };

/** Runs `POST /api/v1/reviews/<id>/<verb>` and prints the new state. */
async function decide(argv: string[], io: Parameters<Command['run']>[1], verb: 'approve' | 'deny' | 'revoke', field: 'comment' | 'reason', required: boolean): Promise<number> {
  const { values, positionals } = parse(argv, { [field]: { type: 'string' }, for: { type: 'string' }, json: { type: 'boolean' } } as const);
  const id = positionals[0];
  if (id === undefined || positionals.length > 1) throw new UsageError('give exactly one review id');
  const text = values[field];
  if (required && (typeof text !== 'string' || text.trim() === '')) throw new UsageError(`--${field} is required`);
  const window = values.for;
  if (window !== undefined && verb !== 'approve') throw new UsageError('--for applies only to reviews approve');
  // Input, not config: parsed where it enters, by the same parser as the configuration's durations.
  if (window !== undefined && (typeof window !== 'string' || !((parseDuration(window) ?? 0) > 0))) throw new UsageError('--for takes a duration such as 30m or 2h');
  const r = await ApiClient.fromEnv(io).request<ReviewRecord>('POST', `/api/v1/reviews/${encodeURIComponent(id)}/${verb}`,
    { ...(typeof text === 'string' ? { [field]: text } : {}), ...(typeof window === 'string' ? { duration: window.trim() } : {}) });
  if (values.json) io.out(JSON.stringify(r));
  else if (verb === 'approve' && r.status === 'pending') io.out(`approved ${r.id} (${r.approvals.length} of ${r.min_approvals} approvals; still pending)`);
  else if (verb === 'approve' && r.kind === 'jit' && r.status === 'approved') io.out(`${r.id} is now approved: grant active until ${r.expires_at}`);
  else io.out(`${r.id} is now ${r.status}`);
  return 0;
}

export const reviewsList: Command = {
  name: 'reviews list',
  summary: 'List reviews: your requests and those you may approve',
  usage: 'gatehouse reviews list [--status pending|approved|denied|expired|cancelled|executed|revoked] [--all] [--limit n] [--json]\n  --all lists every review (needs the admin action).',
  async run(argv, io) {
    const { values } = parse(argv, { status: { type: 'string' }, all: { type: 'boolean' }, limit: { type: 'string' }, json: { type: 'boolean' } });
    const q = new URLSearchParams();
    if (values.status !== undefined) q.set('status', values.status);
    if (values.all) q.set('scope', 'all');
    if (values.limit !== undefined) q.set('limit', values.limit);
    const qs = q.size > 0 ? `?${q.toString()}` : '';
    const { items } = await ApiClient.fromEnv(io).request<{ items: ReviewRecord[] }>('GET', `/api/v1/reviews${qs}`);
    if (values.json) {
      io.out(JSON.stringify(items));
      return 0;
    }
    if (items.length === 0) {
      // An empty list is the usual first surprise: say what it shows, and to whom.
      io.err('no reviews' + (values.status === undefined ? '' : ` with status ${values.status}`) + (values.all ? '' : ' that you requested or may approve')
        + '. Approvers are people in a review rule\'s approver group (e.g. dba) whom policy permits review.approve, using a key'
        + ' without an agent: GATEHOUSE_TOKEN=<their key> gatehouse reviews list. The bootstrap admin is not an approver; with it, --all lists every review.');
    }
    io.out(table(['ID', 'STATUS', 'KIND', 'REQUESTER', 'CONNECTION', 'ACTION', 'APPROVALS', 'EXPIRES', 'SUMMARY'], items.map((r) => [
      r.id, r.status, r.kind, who(r.requester), r.connection, r.action, `${r.approvals.length}/${r.min_approvals}`, r.expires_at, short(r.summary),
    ])));
    return 0;
  },
};

export const reviewsApprove: Command = {
  name: 'reviews approve',
  summary: 'Approve a review (never your own)',
  usage: 'gatehouse reviews approve <id> [--comment text] [--for 30m] [--json]\n  --for (jit reviews): the grant\'s time window, at most the rule\'s duration (capped by reviews.max_duration); default that.',
  run: (argv, io) => decide(argv, io, 'approve', 'comment', false),
};

export const reviewsDeny: Command = {
  name: 'reviews deny',
  summary: 'Deny a review; the held request fails with your reason',
  usage: 'gatehouse reviews deny <id> --reason text [--json]',
  run: (argv, io) => decide(argv, io, 'deny', 'reason', true),
};

export const reviewsRevoke: Command = {
  name: 'reviews revoke',
  summary: 'Revoke an approval or a jit grant (effective at once)',
  usage: 'gatehouse reviews revoke <id> [--reason text] [--json]',
  run: (argv, io) => decide(argv, io, 'revoke', 'reason', false),
};
