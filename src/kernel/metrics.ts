import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics, in one registry per gateway instance (tests run several). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({ name: 'gatehouse_http_requests_total', help: 'HTTP requests served, by route and status', labelNames: ['route', 'status'] as const, registers: [this.registry] });
  readonly httpDuration = new Histogram({ name: 'gatehouse_http_request_duration_seconds', help: 'Time to serve an HTTP request', labelNames: ['route'] as const, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers: [this.registry] });
  readonly decisions = new Counter({ name: 'gatehouse_policy_decisions_total', help: 'Policy decisions, by action and effect', labelNames: ['action', 'effect'] as const, registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'gatehouse_auth_failures_total', help: 'Failed authentications, by protocol', labelNames: ['protocol'] as const, registers: [this.registry] });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }
}
