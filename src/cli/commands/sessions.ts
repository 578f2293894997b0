// Real time on purpose: replay paces output for a person watching (the CLI has no gateway clock;
// the lint's timer rule allows src/cli).
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, parse, UsageError, type Command } from '../args.ts';
import { ApiClient } from '../client.ts';
import { table } from '../table.ts';
import { EXPORT_FORMATS, exportSession, type ExportFormat } from '../../recording/export.ts';
import { replay } from '../../recording/replay.ts';
import type { SessionInfo, SessionVerifyResult, StoredEvent } from '../../recording/types.ts';

export const sessionsList: Command = {
  name: 'sessions list',
  summary: 'List recorded sessions (newest first)',
  usage: 'gatehouse sessions list [--user u] [--agent a] [--connection c] [--since 24h|ISO] [--until 1h|ISO] [--decision allow|deny|review] [--limit n] [--json]',
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      user: { type: 'string' }, agent: { type: 'string' }, connection: { type: 'string' }, since: { type: 'string' },
      until: { type: 'string' }, decision: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values.decision !== undefined && !['allow', 'deny', 'review'].includes(values.decision)) throw new UsageError('--decision must be allow, deny or review');
    const q = new URLSearchParams();
    for (const k of ['user', 'agent', 'connection', 'since', 'until', 'decision', 'limit'] as const) {
      const v = values[k];
      if (v !== undefined) q.set(k, v);
    }
    const { items } = await ApiClient.fromEnv(io).request<{ items: SessionInfo[] }>('GET', `/api/v1/sessions${q.size > 0 ? `?${q.toString()}` : ''}`);
    if (values.json) {
      io.out(JSON.stringify(items));
      return 0;
    }
    io.out(table(['ID', 'PROTOCOL', 'PRINCIPAL', 'CONNECTION', 'OPENED', 'EVENTS', 'DECISIONS', 'STATE'], items.map((s) => [
      s.id, s.protocol, principal(s), s.connection ?? '-', s.openedAt, String(s.events), s.decisions.join(',') || '-',
      `${s.closedAt ? 'closed' : 'open'}${s.truncated ? `, truncated (${s.dropped} dropped)` : ''}`,
    ])));
    return 0;
  },
};

export const sessionsReplay: Command = {
  name: 'sessions replay',
  summary: 'Replay a session in the terminal, in time order with its timing',
  usage: 'gatehouse sessions replay <id> [--speed N]   (gaps are divided by N and capped at 2 s)',
  async run(argv, io) {
    const { values, positionals } = parse(argv, { speed: { type: 'string' } });
    const id = oneId(positionals);
    const speed = values.speed === undefined ? 1 : Number(values.speed);
    if (!Number.isFinite(speed) || speed <= 0) throw new UsageError('--speed must be a positive number');
    const api = ApiClient.fromEnv(io);
    const info = await api.request<SessionInfo>('GET', sessionPath(id));
    io.out(`session ${info.id} (${info.protocol}, ${principal(info)}) opened ${info.openedAt}, ${info.events} events${info.truncated ? ', truncated' : ''}`);
    await replay(pages(api, id), { speed, write: (t) => io.out(t), writeRaw: (t) => { if (io.raw) io.raw(t); else io.out(t); }, sleep: (ms) => sleep(ms) });
    return 0;
  },
};

export const sessionsExport: Command = {
  name: 'sessions export',
  summary: 'Export a session as json, csv or asciicast (v2, for asciinema players)',
  usage: 'gatehouse sessions export <id> --format json|csv|asciicast',
  async run(argv, io) {
    const { values, positionals } = parse(argv, { format: { type: 'string' } });
    const id = oneId(positionals);
    const format = values.format ?? 'json';
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError('--format must be json, csv or asciicast');
    const api = ApiClient.fromEnv(io);
    const info = await api.request<SessionInfo>('GET', sessionPath(id));
    let text = '';
    for await (const chunk of exportSession(format as ExportFormat, info, pages(api, id))) text += chunk;
    io.out(text.endsWith('\n') ? text.slice(0, -1) : text);
    return 0;
  },
};

export const sessionsVerify: Command = {
  name: 'sessions verify',
  summary: 'Verify a session\'s hash chain and audit anchor (exit 1 when not intact)',
  usage: 'gatehouse sessions verify <id> [--json]',
  async run(argv, io) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
    const id = oneId(positionals);
    const r = await ApiClient.fromEnv(io).request<SessionVerifyResult>('GET', `${sessionPath(id)}/verify`);
    if (values.json) {
      io.out(JSON.stringify(r));
      return r.ok ? 0 : 1;
    }
    if (!r.ok) throw new CliError(`session ${id} is NOT intact: event ${r.seq}: ${r.reason}`);
    io.out(`session ${id} is intact (${r.events} events)`);
    return 0;
  },
};

/** Every `sessions` command, for the CLI's command list. */
export const SESSION_COMMANDS: readonly Command[] = [sessionsList, sessionsReplay, sessionsExport, sessionsVerify];

async function* pages(api: ApiClient, id: string): AsyncGenerator<StoredEvent> {
  let after = 0;
  for (;;) {
    const page = await api.request<{ items: StoredEvent[]; next?: number }>('GET', `${sessionPath(id)}/events?after=${after}&limit=500`);
    yield* page.items;
    if (page.items.length === 0 || page.next === undefined) return;
    after = page.next;
  }
}

function sessionPath(id: string): string {
  return `/api/v1/sessions/${encodeURIComponent(id)}`;
}

function oneId(positionals: string[]): string {
  const id = positionals[0];
  if (id === undefined || positionals.length > 1) throw new UsageError('give exactly one session id');
  return id;
}

function principal(s: { user?: string; agent?: string }): string {
  if (s.user && s.agent) return `${s.user} via ${s.agent}`;
  return s.user ?? s.agent ?? '-';
}

