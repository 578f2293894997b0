import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { GatehouseError } from '../kernel/errors.ts';
import { sendProblem } from '../http/problem.ts';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MEMORY_STORE_PATH } from '../config/finalize.ts';
import type { GatehouseConfig } from '../config/types.ts';
import { after, every, systemClock, type Clock } from '../kernel/clock.ts';
import { createLogger, type Logger } from '../kernel/log.ts';
import { Metrics } from '../kernel/metrics.ts';
import { REGISTRY } from '../protocols/registry.ts';
import { loadRuntimes, runners } from './protocol-runtimes.ts';
import { openStore } from '../store/index.ts';
import { ConnectionsRepo } from '../store/connections-repo.ts';
import { loadOrCreateMasterKey } from '../store/crypto-box.ts';
import { SignInFlows } from '../console/signin-flows.ts';
import { ApiKeys } from '../identity/api-keys.ts';
import { BuiltinIssuer } from '../identity/issuer.ts';
import { OidcVerifier } from '../identity/oidc.ts';
import { Authenticator } from '../identity/authenticator.ts';
import { bootstrapAdmin } from '../identity/bootstrap.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { ReviewRules } from '../policy/review-rules.ts';
import { Decider } from '../policy/decider.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { initSqlInspector } from '../inspect/sql/inspect.ts';
import { ConnectionRegistry } from '../connections/registry.ts';
import { createHttpHandler, createMetricsHandler, listenHttp } from './http-server.ts';
import { httpSurfaces } from './http-surfaces.ts';
import { HostGuard } from '../http/host-guard.ts';
import { parseListen, checkExposure } from './listen.ts';
import type { Services } from './services.ts';
import { MaskingRules } from '../masking/rules.ts';
import { inspectionScanner } from '../masking/scanner.ts';
import { Upstreams } from '../protocols/http/proxy/upstream.ts';
import { InProcessProxy } from '../protocols/http/proxy/in-process.ts';
import { openReviews } from '../reviews/wire.ts';
import { ReviewGate } from '../reviews/gate.ts';
import { policyApprover } from '../enforce/approver.ts';
import { DecisionState } from '../enforce/authorize.ts';
import { SessionStore } from '../recording/session-store.ts';
import { anchorDueSessions, recoverJournals, StoreRecorder } from '../recording/store-recorder.ts';
import { RecordingJournal } from '../recording/journal.ts';
import { nullRecorder, type Recorder } from '../recording/recorder.ts';
import { closeSessions, HttpSessions } from '../enforce/sessions.ts';
import { isLoopback } from './listen.ts';
import { PrincipalLimits } from '../enforce/limits.ts';
import { InspectionPool, inspectionOptions } from './inspection-pool.ts';

/** How often every replica anchors the closes a killed process left unanchored (`recording_anchor_due`). */
const ANCHOR_SWEEP_MS = 60_000;

export interface GatewayOptions {
  readonly configPath?: string;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Override the HTTP listen address (tests use port 0). */
  readonly httpListen?: string;
  /** Recording hook (tests pass a MemoryRecorder). */
  readonly recorder?: Recorder;
  /**
   * Override a protocol listener's address by protocol name (`{ postgres: '127.0.0.1:0' }`);
   * `false` disables it. Default: `server.<name>.listen`. A listener its declaration does not
   * want (SSH without an ssh connection) stays off whatever the address.
   */
  readonly listen?: Readonly<Record<string, string | false>>;
  /** Override `server.metrics.listen` (tests use port 0). */
  readonly metricsListen?: string;
}

/** A started protocol listener: where it is bound, and what it reports (`RunningListener.info`). */
export interface StartedListener {
  readonly host: string;
  readonly port: number;
  readonly info?: Readonly<Record<string, string>>;
}

/** A running gateway: its services, bound addresses, and a clean shutdown. */
export interface Gateway {
  readonly services: Services;
  readonly http: { host: string; port: number; url: string };
  /**
   * Each started protocol listener's bound address, by protocol name (`listeners.postgres`), with
   * the public facts it reports (`listeners.ssh.info.hostKey`).
   */
  readonly listeners: Readonly<Partial<Record<string, StartedListener>>>;
  /** The separate `/metrics` listener's bound address, when `server.metrics.listen` is set. */
  readonly metrics?: { host: string; port: number };
  /** Set when the bootstrap admin key was created on this start. */
  readonly adminKeyPath: string | undefined;
  readonly adminKeyCreated: boolean;
  close(): Promise<void>;
}

/**
 * The composition root: opens the store, builds identity, policy and audit, and starts the
 * listeners. Every module is constructed here, explicitly, in dependency order.
 */
export async function startGateway(config: GatehouseConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger({ level: config.log.level });
  const listen = parseListen(opts.httpListen ?? config.server.http.listen);
  checkExposure(listen.host, config);

  const policy = PolicyEngine.fromFiles(config.policies.files, { adminGroup: config.identity.bootstrap.admin_group });
  const rules = new ReviewRules(config.reviews.rules);
  // The PostgreSQL parser (WASM, ~1.7 MB module): at start when a PostgreSQL connection needs it on
  // every session; otherwise loaded by the first SQL inspection (policy API, MCP), which awaits it
  // and is denied if it cannot load (InspectionPool.inspectSql).
  if (config.connections.some((c) => c.type === 'postgres')) await initSqlInspector();
  // Each registered protocol's running code (its folder's runtime.ts), loaded once.
  const runtimes = await loadRuntimes();

  const pgStore = config.store.postgres;
  const inMemory = config.store.embedded.path === MEMORY_STORE_PATH;
  const db = await openStore(pgStore
    ? { postgres: { url: pgStore.url, poolMax: pgStore.pool_max, ...(pgStore.password ? { password: pgStore.password.reveal() } : {}) } }
    : { embedded: { path: inMemory ? undefined : config.store.embedded.path } });
  const closers: (() => Promise<void>)[] = [() => db.close()];
  try {
    // Local state files (admin.key, master.key) live beside the embedded store; with an in-memory
    // or PostgreSQL store, in ./.gatehouse.
    const stateDir = pgStore || inMemory ? resolve('.gatehouse') : config.store.embedded.path;
    const masterKey = loadOrCreateMasterKey(stateDir);
    const connectionsRepo = new ConnectionsRepo(db, masterKey);
    const audit = new AuditLog(db, clock);
    closers.unshift(() => audit.flush());
    // Recording: the read side always; the writer when recording is on. Closed after the
    // listeners (so in-flight exchanges are recorded) and before the audit flush.
    const sessions = new SessionStore(db, { clock, onError: (e) => { log.warn({ err: String(e) }, 'recording retention failed'); } });
    sessions.startRetention(config.recording.retention_ms);
    closers.unshift(() => { sessions.stop(); return Promise.resolve(); });
    // The recorder's journal (recording.durability: journal — durability without a store commit
    // per response) lives beside the other local state; journals of a crashed process are
    // replayed before anything is served (also after a switch to durability: store). With
    // durability: store, a response waits for the store's commit and nothing acknowledged is
    // left on local disk: the replica can be deleted for good.
    const journalDir = join(stateDir, 'journal');
    const maxSessionBytes = config.recording.max_session_bytes;
    if (!inMemory) {
      const replayed = await recoverJournals(db, journalDir, { audit, maxSessionBytes });
      if (replayed > 0) log.warn({ events: replayed }, 'recording: replayed events from the journal of a process that did not stop cleanly');
    }
    // Closes whose anchor a killed process never appended (recording_anchor_due): anchored before
    // anything is served, then swept by every replica once a minute (rows a minute old: a live
    // recorder anchors its own within milliseconds). A shutdown stops a sweep between pages and
    // waits for it.
    let stopping = false;
    const sweepAnchors = async (minAgeMs: number, maxRows: number): Promise<void> => {
      const { anchored, refused } = await anchorDueSessions(db, audit, { minAgeMs, maxRows, stopped: () => stopping });
      if (anchored > 0) log.warn({ sessions: anchored }, 'recording: anchored sessions whose close was committed without its anchor (a process that did not stop cleanly)');
      if (refused.length > 0) log.error({ sessions: refused.slice(0, 20), count: refused.length }, 'recording: not anchored: a close waiting for its anchor disagrees with the stored session (its verification reports it)');
    };
    const sweepFailed = (err: unknown): void => { log.error({ err: String(err) }, 'recording: anchoring left closes failed'); };
    await sweepAnchors(0, 200).catch(sweepFailed);
    let sweeping: Promise<void> | undefined;
    const stopSweep = every(clock, ANCHOR_SWEEP_MS, () => {
      sweeping ??= sweepAnchors(ANCHOR_SWEEP_MS, 10_000).catch(sweepFailed).finally(() => { sweeping = undefined; });
    });
    closers.unshift(async () => { stopping = true; stopSweep(); await sweeping; });
    const journaled = !inMemory && config.recording.durability === 'journal';
    const storeRecorder = config.recording.enabled && !opts.recorder
      ? new StoreRecorder(db, {
        clock, audit, maxSessionBytes, ...(journaled ? { journal: RecordingJournal.create(journalDir) } : {}),
        onError: (e, what) => {
          if (what === 'refused') log.warn({ err: String(e) }, 'recording: exchanges refused (store_unavailable)');
          else log.error({ err: String(e), what }, what === 'journal' ? 'recording journal write failed' : 'recording write failed');
        },
      })
      : undefined;
    if (storeRecorder) closers.unshift(() => storeRecorder.close());
    const apiKeys = new ApiKeys(db, clock, { log });
    await apiKeys.start();
    closers.unshift(() => apiKeys.close());
    const tls = config.server.tls;
    const scheme = tls ? 'https' : 'http';
    // Read deadlines (slow-header and slow-body defence): they bound receiving a request, never
    // a response, so streams and long polls are not cut. Checked every second.
    const timeouts = httpTimeouts(config);
    const server: Server = tls
      ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key), ...timeouts })
      : createServer(timeouts);
    // Until the services are built, requests get 503 not_ready rather than hanging.
    let handle = (_req: IncomingMessage, res: ServerResponse): void => { sendProblem(res, new GatehouseError('not_ready')); };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => { handle(req, res); });
    const bound = await listenHttp(server, listen.host, listen.port);
    // Shutdown runs in reverse: stop accepting and drain the listener, close upstream pools, then
    // close the open HTTP/MCP sessions in the recording (anchoring them) before the recorder stops.
    const recorder = opts.recorder ?? storeRecorder ?? nullRecorder;
    // Sessions are rotated well before recording.max_session_bytes (half of it). A session the
    // table lets go by itself (rotated, evicted) is closed in the recording at once, which anchors it.
    const httpSessions = new HttpSessions(undefined, undefined, {
      maxSessionBytes: config.recording.max_session_bytes,
      onEnded: (s) => { closeSessions({ recorder, clock, log }, [s]); },
    });
    closers.unshift(() => { closeSessions({ recorder, clock, log }, httpSessions.endAll()); return Promise.resolve(); });
    const upstreams = new Upstreams();
    closers.unshift(() => upstreams.close());
    closers.unshift(() => closeServer(server, clock));
    const url = stripSlash(config.server.public_url ?? `${scheme}://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`);
    const issuer = await BuiltinIssuer.open(db, clock, {
      issuer: url,
      audience: config.identity.builtin.audience,
      tokenTtlMs: config.identity.builtin.token_ttl_ms,
    });
    const oidc = new OidcVerifier(config.identity.issuers.map((i) => ({
      issuer: i.issuer, audience: i.audience, groupsClaim: i.groups_claim, userClaim: i.user_claim,
      algorithms: i.algorithms, jwksCacheMs: i.jwks_cache_ms,
    })), clock);
    const authenticator = new Authenticator({ apiKeys, issuer, oidc });
    const boot = await bootstrapAdmin(apiKeys, stateDir, { user: config.identity.bootstrap.admin_user, group: config.identity.bootstrap.admin_group });

    const serviceMetrics = new Metrics();
    const decider = new Decider(policy, rules);
    const decisions = new DecisionState();
    const connections = new ConnectionRegistry(config.connections, connectionsRepo);
    const rv = await openReviews({
      db, clock, log, audit, config, publicUrl: url,
      mayApprove: policyApprover({ decider, audit, metrics: serviceMetrics, clock, log, decisions, connections }),
    });
    closers.unshift(() => rv.close());
    const masking = new MaskingRules(config.masking.rules, config.masking.hash_key ? Buffer.from(config.masking.hash_key.reveal(), 'utf8') : undefined);
    // Heavy SQL parsing and body scanning run on worker threads (terminated on shutdown).
    const inspection = new InspectionPool(inspectionOptions(config), { maskingRules: config.masking.rules, hashKey: new Uint8Array(masking.hashKey), metrics: serviceMetrics, clock });
    closers.unshift(() => inspection.close());
    serviceMetrics.watchInspection(() => inspection.workers);
    serviceMetrics.watchRecording(() => storeRecorder?.stats());
    const base: Omit<Services, 'proxyExchange' | 'sqlRunners' | 'shellRunners'> = {
      config, configPath: opts.configPath, log, clock, metrics: serviceMetrics, db, apiKeys, issuer, authenticator,
      policy, decider, decisions, audit, connections,
      connectionsRepo, publicUrl: url,
      masking, scanner: inspectionScanner(masking.hashKey), limits: new PrincipalLimits(config.limits.per_principal), inspection,
      recorder,
      sessions, httpSessions,
      upstreams,
      reviews: rv.reviews, reviewRules: rules, reviewHoldMs: rv.holdTimeoutMs,
      reviewGate: new ReviewGate({ log }, { reviews: rv.reviews, holdTimeoutMs: rv.holdTimeoutMs, rules }),
      signInFlows: new SignInFlows(db, clock, masterKey),
    };
    // MCP's call_llm and http_request run the /proxy exchange in process, for the MCP caller.
    // The protocols' SQL and shell runners (MCP's query tools, run_command), by connection type.
    const services: Services = { ...base, proxyExchange: new InProcessProxy(base), sqlRunners: {}, shellRunners: {} };
    Object.assign(services, runners(runtimes, services));
    // HTTP/MCP sessions unused for recording.session_idle are closed (which anchors them); rotated
    // and evicted ones were closed when they ended (onEnded above).
    const idleMs = config.recording.session_idle_ms;
    const stopSweeper = every(clock, Math.max(1_000, Math.min(60_000, idleMs / 4)), () => { closeSessions(services, httpSessions.sweep(idleMs)); });
    // Sessions a crashed process left open: unused for twice the idle time plus a sweep, so no
    // live replica still holds them (each closes its own); closed here, which anchors them.
    const orphansMs = 2 * idleMs + 60_000;
    const closeOrphans = (): void => {
      sessions.staleOpen(orphansMs).then((rows) => {
        closeSessions(services, rows.map((r) => ({
          id: r.id, reason: 'orphaned' as const,
          identity: { protocol: r.protocol, user: r.user ?? undefined, ...(r.agent === null ? {} : { agent: r.agent }) },
        })));
      }, (err: unknown) => { log.warn({ err: String(err) }, 'recording: finding orphaned sessions failed'); });
    };
    const stopOrphanSweeper = config.recording.enabled ? every(clock, Math.max(1_000, Math.min(15 * 60_000, idleMs)), closeOrphans) : undefined;
    if (stopOrphanSweeper) closeOrphans();
    closers.unshift(() => { stopSweeper(); stopOrphanSweeper?.(); return Promise.resolve(); });
    const guard = new HostGuard(bound, config.server.public_url, config.server.allowed_hosts);
    handle = createHttpHandler(services, await httpSurfaces(services, guard));
    const metricsListen = opts.metricsListen ?? config.server.metrics.listen;
    let metrics: { host: string; port: number } | undefined;
    if (metricsListen !== undefined) {
      const at = parseListen(metricsListen);
      checkExposure(at.host, config);
      const metricsServer = createServer();
      metricsServer.headersTimeout = 10_000;
      metricsServer.requestTimeout = 30_000;
      metrics = await listenHttp(metricsServer, at.host, at.port);
      metricsServer.on('request', createMetricsHandler(services, metrics));
      closers.unshift(() => closeServer(metricsServer, clock));
    }
    // Each registered protocol with a listener of its own (server.<name>), in registration order,
    // when its declaration wants it (SSH: an ssh connection in this file, or enabled).
    const listeners: Record<string, StartedListener> = {};
    const configuredTypes = new Set<string>(config.connections.map((c) => c.type));
    for (const { name, listener } of REGISTRY.listeners()) {
      const section = listenerSection(config, name);
      if (listener.wanted && !listener.wanted(section, configuredTypes)) continue;
      const text = opts.listen?.[name] ?? section.listen;
      if (text === false) continue;
      const at = parseListen(text);
      // A protocol that is its own encrypted transport (SSH) takes neither server.tls nor its rule.
      if (!listener.ownTransport) checkExposure(at.host, config);
      const start = runtimes.get(name)?.startListener;
      if (!start) throw new GatehouseError('internal', `protocol "${name}" has no listener start function`);
      const running = await start(services, { ...at, loopback: isLoopback(at.host), ...(tls && !listener.ownTransport ? { tls } : {}) }, section, { stateDir });
      listeners[name] = { ...running.address, ...(running.info ? { info: running.info } : {}) };
      closers.unshift(() => running.close());
    }
    const addresses = Object.fromEntries(Object.entries(listeners).map(([name, l]) => [name, { host: l.host, port: l.port }]));
    log.info({ http: url, ...addresses, ...(metrics ? { metrics } : {}), store: db.kind, policies: policy.policies().length }, 'gatehouse listening');
    return {
      services, http: { ...bound, url }, listeners, ...(metrics ? { metrics } : {}), adminKeyPath: boot.path, adminKeyCreated: boot.created,
      close: async () => { for (const c of closers) await c().catch((e: unknown) => log.error({ err: String(e) }, 'shutdown step failed')); },
    };
  } catch (err) {
    for (const c of closers) await c().catch(() => undefined);
    throw err;
  }
}

/** `server.<name>` of a registered protocol's listener (validated by the configuration schema). */
function listenerSection(config: GatehouseConfig, name: string): { readonly listen: string } {
  const sections: Readonly<Record<string, unknown>> = config.server;
  const section = sections[name];
  if (section === null || typeof section !== 'object' || !('listen' in section) || typeof section.listen !== 'string') {
    throw new GatehouseError('config_invalid', `server.${name}.listen is missing`);
  }
  return section as { readonly listen: string };
}

/** `server.http` deadlines as node:http server options. */
function httpTimeouts(config: GatehouseConfig): { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number; connectionsCheckingInterval: number } {
  const h = config.server.http;
  return {
    headersTimeout: h.headers_timeout_ms, requestTimeout: h.request_timeout_ms,
    keepAliveTimeout: h.keep_alive_timeout_ms, connectionsCheckingInterval: 1_000,
  };
}

function stripSlash(u: string): string {
  return u.endsWith('/') ? u.slice(0, -1) : u;
}

/** Stops accepting; connections still busy after a 5 s grace (on `clock`) are cut. */
async function closeServer(server: Server, clock: Clock): Promise<void> {
  server.closeIdleConnections();
  await new Promise<void>((resolve) => {
    const cancel = after(clock, 5_000, () => { server.closeAllConnections(); });
    server.close(() => { cancel(); resolve(); });
  });
}

