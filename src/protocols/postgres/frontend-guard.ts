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
import { justificationCommand, type ExecutedDefinition, type StatementBinding } from '../../sql/hold.ts';
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
/** How deep `EXECUTE` of a statement that is itself an `EXECUTE` is followed (deeper: denied). */
const MAX_EXECUTE_DEPTH = 4;
/** What a name a portal executes could denote when its Bind was decided. */
interface Pin { readonly name: string; readonly candidates: ReadonlySet<Candidate> }
/** The names the `EXECUTE`s of a text run: for the approval (definitions) and its portal (pins). */
interface ExecutedNames { readonly names: StatementBinding['executes'][number][]; readonly pins: Pin[] }
/** Messages of an extended batch: the portals they create live in the transaction its Sync ends. */
const EXTENDED_MESSAGES: ReadonlySet<number> = new Set([FE.parse, FE.bind, FE.describe, FE.execute, FE.close]);
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
  /** Portals whose statement runs `EXECUTE name`: what each name could be when the Bind was decided. */
  readonly #pinned = new Map<string, readonly Pin[]>();
  #discardUntilSync = false;
  /** The registrations of `#prepared` before the Query or Parse being handled was guarded. */
  #queryMark = 0;
  /** Column lineage, on a connection with column rules (see output-lineage.ts). */
  readonly #lineage: OutputLineage | undefined;
  /**
   * A WITH HOLD cursor reading a protected column was declared (by the batch numbered `batch`),
   * and the transaction declaring it may still be open: the server computes the cursor when the
   * transaction commits (COMMIT, END, COMMIT AND CHAIN, PREPARE TRANSACTION, the implicit commit
   * at Sync or at the end of a Query), and the error or notice answering whatever ends it may
   * quote its values. Every batch sent until then is treated as reading that column.
   */
  #heldCursor: { batch: number; column: string } | undefined;
  /** Extended-protocol messages were received since the last Sync (their batch is not counted yet). */
  #extendedPending = false;

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
  idle(): void {
    // The ReadyForQuery of an earlier batch: the portals of the extended batch in progress are alive.
    if (this.#extendedPending) return;
    this.#lineage?.idle();
    this.#pinned.clear();
    // Not while the batch that declared it (an extended batch before its Sync) is still running.
    if (this.#heldCursor && this.#link.batches.done > this.#heldCursor.batch) this.#heldCursor = undefined;
  }

  /** A statement forwarded now declares a WITH HOLD cursor reading `column` (see {@link #heldCursor}). */
  #holdsCursor(column: string | undefined): void {
    if (column !== undefined) this.#heldCursor = { batch: this.#link.batches.sent, column };
  }

  /** The batch being sent may end a transaction holding a sensitive WITH HOLD cursor: its texts are withheld. */
  #markHeldCursor(): void {
    if (this.#heldCursor) this.#results.markSensitive(this.#heldCursor.column);
  }

  /**
   * The server resolves `EXECUTE name` when the portal is executed, not bound: each name the
   * portal runs may now denote only definitions its Bind was decided (and approved) on.
   */
  #pinsHold(portal: string): boolean {
    const pins = this.#pinned.get(portal);
    if (pins === undefined) return true;
    for (const p of pins) {
      const found = this.#names.lookup(p.name);
      // A name no longer known (dropped since) cannot be checked: refused (the server would fail it too).
      if (!found.known || !found.candidates.every((c) => p.candidates.has(c))) return false;
    }
    return true;
  }

  /** One client message, in order (a promise while it waits for a decision or a review). */
  frontend(f: Frame): void | Promise<void> {
    // Query, Parse, Bind, Describe, Execute and Close are validated by the parse each handler
    // starts with (before anything is forwarded); the others here. A body is parsed once.
    if (this.#discardUntilSync || !PARSED_BY_HANDLER.has(f.type)) validateFrontend(f.type, f.body);
    if (this.#discardUntilSync) {
      if (f.type === FE.sync) { this.#discardUntilSync = false; this.#extendedPending = false; this.#markHeldCursor(); this.#init.sendSync(f.raw); }
      else if (f.type === FE.terminate) this.#init.close();
      return;
    }
    // A session whose recording is full (max_session_bytes) runs nothing more: it ends, fail closed.
    if (STATEMENT_MESSAGES.has(f.type)) this.#rec.admit();
    // A Query inside an extended batch not yet ended by Sync: after an error the server skips it
    // (it ignores everything until Sync) while the gateway would count it answered — the names
    // tracked from the server's answers would fall out of step. Real clients Sync first.
    if (f.type === FE.query && this.#extendedPending) {
      throw new ProtocolError('a Query sent inside an extended-protocol batch (after Parse, Bind, Describe, Execute or Close without a Sync) is not allowed through Gatehouse; send Sync first');
    }
    if (EXTENDED_MESSAGES.has(f.type)) this.#extendedPending = true;
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
        if (!this.#pinsHold(portal)) {
          this.#refuseBind(`Gatehouse denied Execute: a prepared statement that portal "${portal}" runs was redefined after its Bind was decided`, { code: 'policy_denied' });
          return;
        }
        const named = this.#lineage?.portal(portal);
        this.#holdsCursor(named?.holds);
        this.#markHeldCursor();
        if (named?.sensitive !== undefined) this.#results.markSensitive(named.sensitive);
        this.#results.execute(portal, named && { plan: named.plan });
        this.#rec.started();
        this.#rec.executing(portal);
        this.#link.toUpstream(f.raw);
        return;
      }
      case FE.sync: this.#extendedPending = false; this.#markHeldCursor(); this.#init.sendSync(f.raw); return;
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
    if (!v.ok && v.effect === 'review') return this.#holdQuery(v, sql).then((held) => { this.#forwardQuery(f, sql, v, held, lv); });
    this.#forwardQuery(f, sql, v, undefined, lv);
  }

  async #holdQuery(v: Extract<Verdict, { effect: 'review' }>, sql: string): Promise<HoldResult> {
    const executes = await this.#executed(sql);
    if (typeof executes === 'string') return { run: false, error: { code: 'policy_denied' }, message: executes };
    return this.hold.run(v, sql, undefined, { formats: [], types: [], executes: executes.names });
  }

  #forwardQuery(f: Frame, sql: string, v: Verdict, held: HoldResult | undefined, lv: LineageVerdict | undefined): void {
    if (this.#link.isClosed()) return;
    this.#link.corkUpstream();
    if (v.ok || held?.run === true) {
      if (lv?.ok === true) {
        lv.commit();
        this.#results.planQuery(lv.plans);
        this.#holdsCursor(lv.holds);
        if (lv.sensitive !== undefined) this.#results.markSensitive(lv.sensitive);
      }
      this.#markHeldCursor();
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
    this.#names.parse(p.name, { sql: p.sql, verdict: late ? undefined : v, ...(p.typeOids.length === 0 ? {} : { types: p.typeOids }) }, () => { this.#prepared.unregister(undefined, registered); });
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
    // What the portal runs through names (EXECUTE p): resolved now, and checked again at its Execute.
    const pins: Pin[] = [];
    const executed: ExecutedNames[] = [];
    for (const c of candidates) {
      if (c.verdict !== undefined) { executed.push({ names: [], pins: [] }); continue; }
      const e = await this.#executed(c.sql);
      if (typeof e === 'string') { this.#link.corkUpstream(); this.#refuseBind(e, { code: 'policy_denied' }); return; }
      executed.push(e);
      pins.push(...e.pins);
    }
    const formats = b.params.map((_, i) => (b.paramFormats.length === 0 ? 0 : b.paramFormats.length === 1 ? b.paramFormats[0]! : b.paramFormats[i] ?? -1));
    for (const [i, { sql, v }] of verdicts.entries()) {
      if (v.ok || v.effect !== 'review') continue;
      const binding: StatementBinding = { formats, types: candidates[i]!.types ?? [], executes: executed[i]!.names };
      const held = await this.hold.run(v, sql, b.params, binding);
      if (this.#link.isClosed()) return;
      if (!held.run) { this.#link.corkUpstream(); this.#refuseBind(held.message, held.error); return; }
    }
    if (this.#link.isClosed()) return;
    this.#link.corkUpstream();
    this.#forwardBind(f, b, pins);
  }

  /**
   * What the `EXECUTE`s of `sql` may run, for an approval's key and summary and for the Execute
   * of a portal: every definition the session may have for each name, and theirs in turn (a Parse
   * may hold `EXECUTE q`). A name the gateway does not track (unless defined earlier in `sql`
   * itself), a denied definition, or nesting deeper than {@link MAX_EXECUTE_DEPTH} → a refusal
   * message (fail closed).
   */
  async #executed(sql: string, depth = 0): Promise<ExecutedNames | string> {
    const inspection = await this.#svc.inspection.inspectSql(sql);
    if (!inspection.ok) return `Gatehouse denied the statement: it could not be parsed (${inspection.error})`;
    const out: ExecutedNames = { names: [], pins: [] };
    const definedHere = new Set<string>();
    for (const s of inspection.statements) {
      if (s.prepared) definedHere.add(s.prepared.name);
      for (const name of s.executes) {
        if (depth >= MAX_EXECUTE_DEPTH) return `Gatehouse denied the statement: prepared statements nested deeper than ${MAX_EXECUTE_DEPTH} levels`;
        const found = this.#names.lookup(name);
        if (!found.known) {
          if (definedHere.has(name)) continue; // its only definition is in the text
          return `Gatehouse denied the statement: prepared statement "${name}" is not known to the gateway`;
        }
        const definitions: ExecutedDefinition[] = [];
        for (const c of found.candidates) {
          if (c.verdict?.ok === false && c.verdict.effect === 'deny') return c.verdict.message;
          definitions.push({ sql: c.sql, types: c.types ?? [] });
        }
        definitions.sort((a, b) => (a.sql < b.sql ? -1 : a.sql > b.sql ? 1 : a.types.join(',') < b.types.join(',') ? -1 : 1));
        out.names.push({ name, definitions });
        out.pins.push({ name, candidates: new Set(found.candidates) });
        for (const c of found.candidates) {
          const inner = await this.#executed(c.sql, depth + 1);
          if (typeof inner === 'string') return inner;
          out.names.push(...inner.names);
          out.pins.push(...inner.pins);
        }
      }
    }
    return out;
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
  #forwardBind(f: Frame, b: BindMessage, pins: readonly Pin[] = []): void {
    if (pins.length > 0) this.#pinned.set(b.portal, pins);
    else this.#pinned.delete(b.portal);
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
