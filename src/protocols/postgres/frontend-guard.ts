import type { PostgresDeps } from './deps.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import { PreparedStatements } from '../../inspect/sql/prepared.ts';
import { DecisionMemo } from '../../policy/decision-memo.ts';
import type { CatalogResolver } from './catalog.ts';
import type { DenialMarkers } from './denial-markers.ts';
import { ProtocolError, SQLSTATE, type PgErrorCode } from './errors.ts';
import type { Frame } from './frame-reader.ts';
import {
  FE, parseBind, parseExecute, parseParse, parseQuery, parseTarget, validateFrontend, type BindMessage, type ParseMessage,
} from './frontend-messages.ts';
import type { FunctionVolatility } from './function-volatility.ts';
import type { LocalSettings } from './local-settings.ts';
import { OutputLineage, type LineageVerdict } from './output-lineage.ts';
import type { ResultPath } from './result-path.ts';
import { justificationCommand } from '../../sql/hold.ts';
import type { SessionLink } from './session-link.ts';
import type { SessionRecording } from './session-recording.ts';
import { StatementHold, type HoldResult } from './statement-hold.ts';
import { StatementNames, type Candidate, type NameOp } from './statement-names.ts';
import { guardSql, type ExtraFacts, type Verdict } from '../../sql/guard.ts';

/** SQLSTATE invalid_sql_statement_name: a Bind of a statement the gateway never saw defined. */
const UNKNOWN_STATEMENT: PgErrorCode = { code: 'not_found', sqlstate: SQLSTATE.invalidSqlStatementName };
/** A syntax error the parser found (42601, with its position). */
const SYNTAX: PgErrorCode = { code: 'bad_request', sqlstate: SQLSTATE.syntaxError };
/** Message types whose handler in {@link FrontendGuard.frontend} parses (so validates) the body first. */
const PARSED_BY_HANDLER: ReadonlySet<number> = new Set([FE.query, FE.parse, FE.bind, FE.describe, FE.execute, FE.close]);
/** Messages that run (or prepare to run) a statement: refused once the session's recording is full. */
const STATEMENT_MESSAGES: ReadonlySet<number> = new Set([FE.query, FE.parse, FE.bind, FE.execute]);
/** A Query that may define or drop prepared statements (checked before looking at its statements). */
const NAME_OPS_RE = /prepare|deallocate|discard/i;

/** The parts of the session the guard works with. */
export interface FrontendGuardInit {
  readonly svc: PostgresDeps;
  readonly principal: Principal;
  readonly connection: Connection;
  readonly link: SessionLink;
  readonly markers: DenialMarkers;
  readonly settings: LocalSettings;
  readonly results: ResultPath;
  readonly rec: SessionRecording;
  /** The upstream catalog (column rules): column lineage is analyzed through it. */
  readonly catalog?: CatalogResolver | undefined;
  /** Forwards a Query (counts a batch; the result path and `names` expect its answer). */
  readonly sendQuery: (raw: Buffer, ops?: NameOp[]) => void;
  /** The session's view of the server's prepared statements (fed with the server's answers). */
  readonly names: StatementNames;
  /** Forwards a Sync (counts a batch). */
  readonly sendSync: (raw: Buffer) => void;
  /** Ends the session (Terminate). */
  readonly close: () => void;
  /** Which functions the upstream marks volatile. */
  readonly volatility?: FunctionVolatility;
}

/**
 * The client → upstream half of a session: every client message is validated; every Query and
 * Parse is inspected and authorized before it is forwarded; a denied one is replaced by a
 * {@link DenialMarkers} marker; a statement whose decision is `review` is held
 * ({@link StatementHold}) — a simple Query at the Query, a prepared statement at each Bind, with
 * its parameters. After a denial in an extended batch, client messages are dropped until Sync
 * (the server discards the rest of the batch too).
 */
export class FrontendGuard {
  readonly #svc: PostgresDeps;
  readonly #principal: Principal;
  readonly #conn: Connection;
  readonly #link: SessionLink;
  readonly #markers: DenialMarkers;
  readonly #settings: LocalSettings;
  readonly #results: ResultPath;
  readonly #rec: SessionRecording;
  readonly #init: FrontendGuardInit;
  readonly #prepared = new PreparedStatements();
  /** Decisions of this session (one principal, one connection), by facts object and action. */
  readonly #decisions = new DecisionMemo();
  /** What each prepared statement name may run on the server: every Bind is decided on it. */
  readonly #names: StatementNames;
  /** The statement held for review, if any. */
  readonly hold: StatementHold;
  #discardUntilSync = false;
  /** The registrations of `#prepared` before the Query or Parse being handled was guarded. */
  #queryMark = 0;
  /** Column lineage, on a connection with column rules (see output-lineage.ts). */
  readonly #lineage: OutputLineage | undefined;

  constructor(init: FrontendGuardInit) {
    this.#lineage = init.results.masking.columnRules && init.catalog
      ? new OutputLineage(init.svc.masking, init.connection.name, init.catalog, init.svc.clock) : undefined;
    this.#init = init;
    this.#svc = init.svc;
    this.#principal = init.principal;
    this.#conn = init.connection;
    this.#link = init.link;
    this.#markers = init.markers;
    this.#settings = init.settings;
    this.#results = init.results;
    this.#rec = init.rec;
    this.#names = init.names;
    if (this.#lineage) init.names.follow(this.#lineage.names);
    this.hold = new StatementHold({
      svc: init.svc, principal: init.principal, connection: init.connection.name, link: init.link, rec: init.rec,
      justification: () => init.settings.justification,
    });
  }

  /** ReadyForQuery outside a transaction with nothing in flight: cursors and portals of the transaction are gone. */
  idle(): void { this.#lineage?.idle(); }

  /** One client message, in order (a promise while it waits for a decision or a review). */
  frontend(f: Frame): void | Promise<void> {
    // Query, Parse, Bind, Describe, Execute and Close are validated by the parse each handler
    // starts with (before anything is forwarded); the others here. A body is parsed once.
    if (this.#discardUntilSync || !PARSED_BY_HANDLER.has(f.type)) validateFrontend(f.type, f.body);
    if (this.#discardUntilSync) {
      if (f.type === FE.sync) { this.#discardUntilSync = false; this.#init.sendSync(f.raw); }
      else if (f.type === FE.terminate) this.#init.close();
      return;
    }
    // A session whose recording is full (max_session_bytes) runs nothing more: it ends, fail closed.
    if (STATEMENT_MESSAGES.has(f.type)) this.#rec.admit();
    switch (f.type) {
      case FE.query: return this.#query(f);
      case FE.parse: return this.#parse(f);
      case FE.bind: {
        const b = parseBind(f.body);
        if (this.#rec.on) this.#rec.bind(b.statement, b.params.map((p) => (p === null ? null : this.#rec.text(p.toString('utf8')))), b.portal);
        return this.#bind(f, b);
      }
      case FE.describe: {
        const d = parseTarget(f.body);
        this.#results.described(d.target, d.name);
        this.#rec.acknowledgeable('describe');
        this.#link.toUpstream(f.raw);
        return;
      }
      case FE.execute: {
        const portal = parseExecute(f.body).portal;
        const named = this.#lineage?.portal(portal);
        if (named?.sensitive !== undefined) this.#results.markSensitive(named.sensitive);
        this.#results.execute(portal, named && { plan: named.plan });
        this.#rec.started();
        this.#rec.executing(portal);
        this.#link.toUpstream(f.raw);
        return;
      }
      case FE.sync: this.#init.sendSync(f.raw); return;
      case FE.functionCall:
        // Fast-path function calls (lo_export …) bypass SQL inspection: always denied.
        this.#markers.deny('Gatehouse denied a fast-path function call (FunctionCall messages are not allowed)', 'query');
        return;
      case FE.password: throw new ProtocolError('unexpected password message');
      case FE.terminate: this.#link.toUpstream(f.raw); this.#init.close(); return;
      case FE.close: {
        // The name is free once the server confirms (CloseComplete), not before: for the
        // statement names, the output lineage (which follows them) and SQL EXECUTE's registry.
        const c = parseTarget(f.body);
        const mark = this.#prepared.mark();
        this.#names.close(c.name, c.target === 'S', c.target === 'S' ? () => { this.#prepared.forget(c.name, mark); } : undefined);
        this.#link.toUpstream(f.raw);
        return;
      }
      default: this.#link.toUpstream(f.raw); // Flush, CopyData, CopyDone, CopyFail
    }
  }

  #query(f: Frame): void | Promise<void> {
    const sql = parseQuery(f.body);
    // SQL EXECUTE's registry: a DEALLOCATE in this text drops only what was defined before it
    // (client messages are handled one at a time: nothing else registers until it is forwarded).
    this.#queryMark = this.#prepared.mark();
    this.#rec.started();
    const local = justificationCommand(sql);
    if (local) {
      this.#rec.local(`${local.tag} gatehouse.justification`);
      this.#settings.setJustification(local.tag, local.value);
      return;
    }
    if (this.#rec.on) this.#rec.request('query', this.#rec.text(sql));
    if (this.#lineage) return this.#lineage.analyze(sql).then((lv) => this.#guardQuery(f, sql, lv));
    return this.#guardQuery(f, sql, undefined);
  }

  #guardQuery(f: Frame, sql: string, lv: LineageVerdict | undefined): void | Promise<void> {
    if (lv?.ok === false) { this.#lineageDenied(lv.message, 'query'); return; }
    // Synchronous on the fast path (no promise: the pump neither pauses the client nor uncorks).
    const v = guardSql(this.#guardCtx(), sql, undefined, extraFacts(lv));
    if (v instanceof Promise) return v.then((verdict) => this.#afterQueryGuard(f, sql, verdict, lv));
    return this.#afterQueryGuard(f, sql, v, lv);
  }

  /** A statement denied by column lineage (unknown while a protected column may be read). */
  #lineageDenied(message: string, as: 'query' | 'parse'): void {
    this.#rec.verdict({ ok: false, effect: 'deny', message, reasons: ['column-lineage'], actions: [] });
    this.#link.corkUpstream();
    this.#markers.deny(message, as);
    if (as === 'parse') this.#discardUntilSync = true;
  }

  #afterQueryGuard(f: Frame, sql: string, v: Verdict, lv: LineageVerdict | undefined): void | Promise<void> {
    this.#rec.verdict(v);
    if (!v.ok && v.effect === 'review') return this.hold.run(v, sql, undefined).then((held) => { this.#forwardQuery(f, sql, v, held, lv); });
    this.#forwardQuery(f, sql, v, undefined, lv);
  }

  #forwardQuery(f: Frame, sql: string, v: Verdict, held: HoldResult | undefined, lv: LineageVerdict | undefined): void {
    if (this.#link.isClosed()) return;
    this.#link.corkUpstream();
    if (v.ok || held?.run === true) {
      if (lv?.ok === true) {
        lv.commit();
        this.#results.planQuery(lv.plans);
        if (lv.sensitive !== undefined) this.#results.markSensitive(lv.sensitive);
      }
      this.#rec.executing(undefined, this.#rec.on ? resultCount(sql, this.#svc) : 1);
      this.#init.sendQuery(f.raw, nameOps(sql, this.#svc, this.#prepared, this.#queryMark));
      return;
    }
    // Not sent: what guarding it registered was never defined.
    this.#prepared.unregister(undefined, { from: this.#queryMark, to: this.#prepared.mark() });
    if (held) this.#markers.deny(held.message, 'query', held.error);
    else if (!v.ok && v.effect === 'deny' && v.syntax) this.#markers.deny(v.syntax.message, 'query', SYNTAX, v.syntax.position);
    else this.#markers.deny(v.message, 'query');
  }

  #parse(f: Frame): void | Promise<void> {
    const p = parseParse(f.body);
    this.#queryMark = this.#prepared.mark();
    if (this.#rec.on) this.#rec.request('parse', this.#rec.text(p.sql), p.name);
    if (this.#lineage) return this.#lineage.analyze(p.sql, p.name).then((lv) => this.#guardParse(f, p, lv));
    return this.#guardParse(f, p, undefined);
  }

  #guardParse(f: Frame, p: ParseMessage, lv: LineageVerdict | undefined): void | Promise<void> {
    if (lv?.ok === false) { this.#lineageDenied(lv.message, 'parse'); return; }
    const v = guardSql(this.#guardCtx(), p.sql, p.name, extraFacts(lv));
    if (v instanceof Promise) return v.then((verdict) => { this.#afterParseGuard(f, p, verdict, lv); });
    this.#afterParseGuard(f, p, v, lv);
  }

  #afterParseGuard(f: Frame, p: ParseMessage, v: Verdict, lv: LineageVerdict | undefined): void {
    this.#rec.verdict(v);
    this.#link.corkUpstream();
    const registered = { from: this.#queryMark, to: this.#prepared.mark() };
    if (!v.ok && v.effect === 'deny') {
      this.#prepared.unregister(undefined, registered);
      if (v.syntax) this.#markers.deny(v.syntax.message, 'parse', SYNTAX, v.syntax.position);
      else this.#markers.deny(v.message, 'parse');
      this.#discardUntilSync = true;
      return;
    }
    if (lv?.ok === true) lv.commit();
    // Parsing runs nothing: the statement is decided at each Bind, where its parameters are known
    // (an approval is for the exact statement + parameters, and is used by one execution).
    const inspection = this.#svc.inspection.inspectSqlNow(p.sql); // cached by the guard above
    const late = inspection.ok && inspection.statements.some((s) => s.executes.length > 0 || s.prepared !== undefined);
    // A Parse the server skips or refuses defines nothing: what guarding it registered goes.
    this.#names.parse(p.name, { sql: p.sql, verdict: late ? undefined : v }, () => { this.#prepared.unregister(undefined, registered); });
    // A PREPARE sent through Parse defines its name when executed, unconfirmed: it counts for good.
    if (inspection.ok) for (const s of inspection.statements) if (s.prepared) this.#names.mayDefine(s.prepared.name, { sql: p.sql, verdict: undefined });
    this.#results.parsed(p.name);
    this.#rec.acknowledgeable('parse');
    this.#link.toUpstream(f.raw);
  }

  /**
   * A Bind runs what its statement name denotes on the server now: every definition it may have
   * (see {@link StatementNames}) must pass — allowed, or reviewed with these parameters (each
   * review used by this one execution). Unknown names are refused.
   */
  #bind(f: Frame, b: BindMessage): void | Promise<void> {
    const full = this.#lineage?.refusesBind(b.portal);
    if (full !== undefined) { this.#refuseBind(full, { code: 'policy_denied' }); return; }
    const found = this.#names.lookup(b.statement);
    if (!found.known) {
      this.#refuseBind(`Gatehouse denied Bind: prepared statement "${b.statement}" is not known to the gateway`, UNKNOWN_STATEMENT);
      return;
    }
    const only = found.candidates.length === 1 ? found.candidates[0] : undefined;
    if (only?.verdict?.ok === true) { this.#forwardBind(f, b); return; } // the fast path
    return this.#decideBind(f, b, found.candidates);
  }

  async #decideBind(f: Frame, b: BindMessage, candidates: readonly Candidate[]): Promise<void> {
    const verdicts: { readonly sql: string; readonly v: Verdict }[] = [];
    for (const c of candidates) verdicts.push({ sql: c.sql, v: c.verdict ?? await this.#lateVerdict(c.sql) });
    for (const { v } of verdicts) {
      if (!v.ok && v.effect === 'deny') { this.#link.corkUpstream(); this.#refuseBind(v.message, { code: 'policy_denied' }); return; }
    }
    for (const { sql, v } of verdicts) {
      if (v.ok || v.effect !== 'review') continue;
      const held = await this.hold.run(v, sql, b.params);
      if (this.#link.isClosed()) return;
      if (!held.run) { this.#link.corkUpstream(); this.#refuseBind(held.message, held.error); return; }
    }
    if (this.#link.isClosed()) return;
    this.#link.corkUpstream();
    this.#forwardBind(f, b);
  }

  /** The verdict for a definition that depends on other names (EXECUTE) or was made in SQL (PREPARE), now. */
  async #lateVerdict(sql: string): Promise<Verdict> {
    const inspection = await this.#svc.inspection.inspectSql(sql); // off the loop when large; then cached
    // A PREPARE text must not register its name again: it is decided with a scratch registry.
    const scratch = inspection.ok && inspection.statements.some((s) => s.prepared !== undefined);
    const v = await guardSql(scratch ? { ...this.#guardCtx(), prepared: new PreparedStatements() } : this.#guardCtx(), sql);
    this.#rec.verdict(v);
    return v;
  }

  /** Bind forwarded: the portal gets its statement's output plan (column lineage, used at its Execute). */
  #forwardBind(f: Frame, b: BindMessage): void {
    this.#lineage?.bind(b.portal, b.statement);
    this.#results.bound(b);
    this.#rec.acknowledgeable('bind');
    this.#link.toUpstream(f.raw);
  }

  #refuseBind(message: string, error: PgErrorCode): void {
    this.#markers.deny(message, 'bind', error);
    this.#discardUntilSync = true;
  }

  #guardCtx(): Parameters<typeof guardSql>[0] {
    return {
      svc: this.#svc, principal: this.#principal, connection: this.#conn, prepared: this.#prepared, decisions: this.#decisions,
      ...(this.#init.volatility ? { volatility: this.#init.volatility } : {}),
    };
  }
}

function extraFacts(lv: LineageVerdict | undefined): ExtraFacts | undefined {
  return lv?.ok === true ? { protected_reads: lv.reads, protected_filters: lv.filters } : undefined;
}

/** How many results a Query text may answer with: one per statement (the server's own count: the same parser), at least one. */
function resultCount(sql: string, svc: Pick<PostgresDeps, 'inspection'>): number {
  const inspection = svc.inspection.inspectSqlNow(sql); // cached by the guard
  return inspection.ok ? Math.max(1, inspection.statements.length) : 1;
}

/**
 * The name operations of a Query text, in statement order (PREPARE defines, DEALLOCATE drops; a
 * confirmed drop also drops, in `prepared`, the definitions registered up to `mark`).
 */
function nameOps(sql: string, svc: Pick<PostgresDeps, 'inspection'>, prepared: PreparedStatements, mark: number): NameOp[] {
  if (!NAME_OPS_RE.test(sql)) return [];
  const inspection = svc.inspection.inspectSqlNow(sql); // cached by the guard

  if (!inspection.ok) return [];
  const ops: NameOp[] = [];
  // The k-th PREPARE of a name in the text registered its k-th candidate since `mark` (statement order).
  const nth = new Map<string, number>();
  for (const s of inspection.statements) {
    if (s.prepared) {
      const name = s.prepared.name;
      const k = nth.get(name) ?? 0;
      nth.set(name, k + 1);
      const seq = prepared.since(name, mark)[k];
      ops.push({
        op: 'prepare', name, cand: { sql: sql.slice(s.location.start, s.location.end), verdict: undefined },
        ...(seq === undefined ? {} : { skipped: () => { prepared.unregister(name, [seq]); } }),
      });
    }
    else if (s.deallocates?.all === true) ops.push({ op: 'deallocate-all', confirmed: () => { prepared.clear(mark); } });
    else if (s.deallocates) { const name = s.deallocates.name; ops.push({ op: 'deallocate', name, confirmed: () => { prepared.forget(name, mark); } }); }
  }
  return ops;
}
