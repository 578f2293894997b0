import type { Services } from '../../app/services.ts';
import type { Connection } from '../../connections/registry.ts';
import type { Principal } from '../../identity/principal.ts';
import { PreparedStatements } from '../../inspect/sql/prepared.ts';
import { DecisionMemo } from '../../policy/decision-memo.ts';
import type { DenialMarkers } from './denial-markers.ts';
import { ProtocolError } from './errors.ts';
import type { Frame } from './frame-reader.ts';
import {
  FE, parseBind, parseExecute, parseParse, parseQuery, parseTarget, validateFrontend, type BindMessage, type ParseMessage,
} from './frontend-messages.ts';
import type { LocalSettings } from './local-settings.ts';
import type { ResultPath } from './result-path.ts';
import { justificationCommand, type HoldResult, type ReviewVerdict } from './review-hold.ts';
import type { SessionLink } from './session-link.ts';
import type { SessionRecording } from './session-recording.ts';
import { StatementHold } from './statement-hold.ts';
import { guardSql, type Verdict } from './statement-guard.ts';

/** Named prepared statements that need a review at Bind (beyond this, such a Parse is denied). */
const MAX_REVIEWABLE = 1000;

/** The parts of the session the guard works with. */
export interface FrontendGuardInit {
  readonly svc: Services;
  readonly principal: Principal;
  readonly connection: Connection;
  readonly link: SessionLink;
  readonly markers: DenialMarkers;
  readonly settings: LocalSettings;
  readonly results: ResultPath;
  readonly rec: SessionRecording;
  /** Forwards a Query (counts a batch; the result path expects its answer). */
  readonly sendQuery: (raw: Buffer) => void;
  /** Forwards a Sync (counts a batch). */
  readonly sendSync: (raw: Buffer) => void;
  /** Ends the session (Terminate). */
  readonly close: () => void;
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
  readonly #svc: Services;
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
  /** Statements (by name) whose text needs a review; each Bind of them is held. */
  readonly #reviewable = new Map<string, { readonly sql: string; readonly verdict: ReviewVerdict }>();
  /** The statement held for review, if any. */
  readonly hold: StatementHold;
  #discardUntilSync = false;

  constructor(init: FrontendGuardInit) {
    this.#init = init;
    this.#svc = init.svc;
    this.#principal = init.principal;
    this.#conn = init.connection;
    this.#link = init.link;
    this.#markers = init.markers;
    this.#settings = init.settings;
    this.#results = init.results;
    this.#rec = init.rec;
    this.hold = new StatementHold({
      svc: init.svc, principal: init.principal, connection: init.connection.name, link: init.link, rec: init.rec,
      justification: () => init.settings.justification,
    });
  }

  /** One client message, in order (a promise while it waits for a decision or a review). */
  frontend(f: Frame): void | Promise<void> {
    validateFrontend(f.type, f.body);
    if (this.#discardUntilSync) {
      if (f.type === FE.sync) { this.#discardUntilSync = false; this.#init.sendSync(f.raw); }
      else if (f.type === FE.terminate) this.#init.close();
      return;
    }
    switch (f.type) {
      case FE.query: return this.#query(f);
      case FE.parse: return this.#parse(f);
      case FE.bind: {
        const b = parseBind(f.body);
        if (this.#rec.on) this.#rec.event('request', { message: 'bind', portal: b.portal, name: b.statement, params: b.params.map((p) => (p === null ? null : this.#rec.text(p.toString('utf8')))) });
        if (this.#reviewable.has(b.statement)) return this.#heldBind(f, b);
        this.#results.bound(b);
        this.#link.toUpstream(f.raw);
        return;
      }
      case FE.describe: {
        const d = parseTarget(f.body);
        this.#results.described(d.target, d.name);
        this.#link.toUpstream(f.raw);
        return;
      }
      case FE.execute: {
        this.#results.execute(parseExecute(f.body).portal);
        this.#rec.started();
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
        // Closing a statement always succeeds upstream: its name is free again.
        const c = parseTarget(f.body);
        if (c.target === 'S') this.#reviewable.delete(c.name);
        this.#link.toUpstream(f.raw);
        return;
      }
      default: this.#link.toUpstream(f.raw); // Flush, CopyData, CopyDone, CopyFail
    }
  }

  #query(f: Frame): void | Promise<void> {
    const sql = parseQuery(f.body);
    this.#rec.started();
    const local = justificationCommand(sql);
    if (local) {
      this.#rec.event('request', { message: 'query', statement: `${local.tag} gatehouse.justification`, local: true });
      this.#settings.setJustification(local.tag, local.value);
      return;
    }
    if (this.#rec.on) this.#rec.event('request', { message: 'query', statement: this.#rec.text(sql) });
    // Synchronous on the fast path (no promise: the pump neither pauses the client nor uncorks).
    const v = guardSql(this.#guardCtx(), sql);
    if (v instanceof Promise) return v.then((verdict) => this.#afterQueryGuard(f, sql, verdict));
    return this.#afterQueryGuard(f, sql, v);
  }

  #afterQueryGuard(f: Frame, sql: string, v: Verdict): void | Promise<void> {
    this.#rec.verdict(v);
    if (!v.ok && v.effect === 'review') return this.hold.run(v, sql, undefined).then((held) => { this.#forwardQuery(f, v, held); });
    this.#forwardQuery(f, v, undefined);
  }

  #forwardQuery(f: Frame, v: Verdict, held: HoldResult | undefined): void {
    if (this.#link.isClosed()) return;
    this.#link.corkUpstream();
    if (v.ok || held?.run === true) this.#init.sendQuery(f.raw);
    else if (held) this.#markers.deny(held.message, 'query', held.code);
    else this.#markers.deny(v.message, 'query');
  }

  #parse(f: Frame): void | Promise<void> {
    const p = parseParse(f.body);
    if (this.#rec.on) this.#rec.event('request', { message: 'parse', name: p.name, statement: this.#rec.text(p.sql) });
    const v = guardSql(this.#guardCtx(), p.sql, p.name);
    if (v instanceof Promise) return v.then((verdict) => { this.#afterParseGuard(f, p, verdict); });
    this.#afterParseGuard(f, p, v);
  }

  #afterParseGuard(f: Frame, p: ParseMessage, v: Verdict): void {
    this.#rec.verdict(v);
    this.#link.corkUpstream();
    // Parsing runs nothing: a statement that needs review is prepared now and held at each Bind,
    // where its parameters are known (the approval is for the exact statement + parameters).
    if (!v.ok && v.effect === 'review' && (p.name === '' || this.#reviewable.has(p.name) || this.#reviewable.size < MAX_REVIEWABLE)) {
      this.#reviewable.set(p.name, { sql: p.sql, verdict: v });
      this.#results.parsed(p.name);
      this.#link.toUpstream(f.raw);
    } else if (v.ok) {
      // The unnamed statement is replaced by every Parse; a named one keeps needing review until Closed.
      if (p.name === '') this.#reviewable.delete('');
      this.#results.parsed(p.name);
      this.#link.toUpstream(f.raw);
    } else {
      const message = v.effect === 'review' ? 'Gatehouse denied the statement: too many prepared statements awaiting review in this session' : v.message;
      this.#markers.deny(message, 'parse');
      this.#discardUntilSync = true;
    }
  }

  /** Bind of a statement that needs review: held here, so nothing after it is forwarded meanwhile. */
  async #heldBind(f: Frame, b: BindMessage): Promise<void> {
    const entry = this.#reviewable.get(b.statement);
    if (!entry) throw new Error('reviewable statement vanished');
    const held = await this.hold.run(entry.verdict, entry.sql, b.params);
    if (this.#link.isClosed()) return;
    this.#link.corkUpstream();
    if (held.run) {
      this.#results.bound(b);
      this.#link.toUpstream(f.raw);
      return;
    }
    this.#markers.deny(held.message, 'bind', held.code);
    this.#discardUntilSync = true;
  }

  #guardCtx(): Parameters<typeof guardSql>[0] {
    return { svc: this.#svc, principal: this.#principal, connection: this.#conn, prepared: this.#prepared, decisions: this.#decisions };
  }
}
