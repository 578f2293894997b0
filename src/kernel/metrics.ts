import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics, in one registry per gateway instance (tests run several). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({ name: 'gatehouse_http_requests_total', help: 'HTTP requests served, by route and status', labelNames: ['route', 'status'] as const, registers: [this.registry] });
  readonly httpDuration = new Histogram({ name: 'gatehouse_http_request_duration_seconds', help: 'Time to serve an HTTP request', labelNames: ['route'] as const, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers: [this.registry] });
  /** Counted in {@link decided} (plain numbers on the hot path), added to the counter at each scrape. */
  readonly decisions = new Counter({
    name: 'gatehouse_policy_decisions_total', help: 'Policy decisions, by action and effect', labelNames: ['action', 'effect'] as const, registers: [this.registry],
    collect: () => { this.#reportDecisions(); },
  });
  readonly limitRefusals = new Counter({ name: 'gatehouse_limit_refusals_total', help: 'Requests and sessions refused by a per-principal concurrency limit, by protocol', labelNames: ['protocol'] as const, registers: [this.registry] });
  readonly inspections = new Counter({ name: 'gatehouse_inspections_total', help: 'SQL, prompt, response and shell-command inspections, by kind (sql, prompt, response, shell) and where they ran (inline, worker, failed)', labelNames: ['kind', 'where'] as const, registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'gatehouse_auth_failures_total', help: 'Failed authentications, by protocol', labelNames: ['protocol'] as const, registers: [this.registry] });

  /** Labelled children by label values: prom-client hashes the label object on every call otherwise. */
  readonly #httpChildren = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();
  /** Decisions by action and effect: counted, and the part already added to `decisions`. */
  readonly #decisionCounts = new Map<string, { readonly action: string; readonly effect: string; n: number; reported: number }>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }

  /**
   * Reports `read()` at every scrape as `gatehouse_inspection_workers{state="busy"|"queued"}`
   * (the inspection worker pool's load). Call once.
   */
  watchInspection(read: () => { busy: number; queued: number } | undefined): void {
    new Gauge({
      name: 'gatehouse_inspection_workers', help: 'Inspection worker pool: tasks running (busy) and waiting (queued)', labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const s = read();
        this.set({ state: 'busy' }, s?.busy ?? 0);
        this.set({ state: 'queued' }, s?.queued ?? 0);
      },
    });
  }

  /**
   * Reports the recorder's counters at every scrape: `gatehouse_recording_events_total{outcome=
   * "recorded"|"dropped"}`, `gatehouse_recording_refused_total` (exchanges refused because their
   * recording failed: 503 `store_unavailable`, or a PostgreSQL session ended) and
   * `gatehouse_recording_queued` (events waiting for the store) and
   * `gatehouse_recording_admission_delayed_total` (exchanges whose start waited for the store:
   * back-pressure). Call once.
   */
  watchRecording(read: () => { recorded: number; dropped: number; refused: number; queued: number; delayed: number } | undefined): void {
    new Counter({
      name: 'gatehouse_recording_events_total', help: 'Recorded events committed to the store, and dropped (queue full, size cap, failed write)', labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        const s = read();
        this.reset();
        this.inc({ outcome: 'recorded' }, s?.recorded ?? 0);
        this.inc({ outcome: 'dropped' }, s?.dropped ?? 0);
      },
    });
    new Counter({
      name: 'gatehouse_recording_refused_total', help: 'Exchanges refused because they could not be recorded (fail closed)',
      registers: [this.registry],
      collect() { this.reset(); this.inc(read()?.refused ?? 0); },
    });
    new Counter({
      name: 'gatehouse_recording_admission_delayed_total', help: 'Exchanges whose start waited for the recording store to catch up (back-pressure)',
      registers: [this.registry],
      collect() { this.reset(); this.inc(read()?.delayed ?? 0); },
    });
    new Gauge({
      name: 'gatehouse_recording_queued', help: 'Recorded events waiting for the store', registers: [this.registry],
      collect() { this.set(read()?.queued ?? 0); },
    });
  }

  /** Counts one served HTTP request and its duration. */
  httpServed(route: string, status: number, seconds: number): void {
    const key = `${route} ${status}`;
    let c = this.#httpChildren.get(key);
    if (c === undefined) {
      c = { count: this.httpRequests.labels(route, String(status)), time: this.httpDuration.labels(route) };
      // Routes and statuses are few (route labels are templates); the bound guards the unexpected.
      if (this.#httpChildren.size < CHILDREN_MAX) this.#httpChildren.set(key, c);
    }
    c.count.inc();
    c.time.observe(seconds);
  }

  /** Counts one policy decision (a number incremented; prom-client's counter catches up at the scrape). */
  decided(action: string, effect: string): void {
    const key = `${action} ${effect}`;
    const c = this.#decisionCounts.get(key);
    if (c !== undefined) { c.n++; return; }
    // Actions and effects are few; the bound guards the unexpected (counted straight into prom-client).
    if (this.#decisionCounts.size >= CHILDREN_MAX) { this.decisions.labels(action, effect).inc(); return; }
    this.#decisionCounts.set(key, { action, effect, n: 1, reported: 0 });
  }

  #reportDecisions(): void {
    for (const c of this.#decisionCounts.values()) {
      if (c.n === c.reported) continue;
      this.decisions.labels(c.action, c.effect).inc(c.n - c.reported);
      c.reported = c.n;
    }
  }
}

const CHILDREN_MAX = 1024;
