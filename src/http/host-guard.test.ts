import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostGuard } from './host-guard.ts';
import { isGatehouseError } from '../kernel/errors.ts';

const guard = new HostGuard({ host: '127.0.0.1', port: 8080 }, 'https://gw.example.com', ['gatehouse.internal:8080']);

test('accepts loopback, public and configured hosts', () => {
  for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'gw.example.com', 'gatehouse.internal:8080']) {
    assert.doesNotThrow(() => guard.check({ host }), host);
  }
});

test('refuses a rebinding Host header', () => {
  assert.throws(() => guard.check({ host: 'evil.example:8080' }), (e) => isGatehouseError(e, 'host_not_allowed'));
  assert.throws(() => guard.check({}), (e) => isGatehouseError(e, 'host_not_allowed'));
  assert.throws(() => guard.check({ host: '127.0.0.1:9999' }), (e) => isGatehouseError(e, 'host_not_allowed'));
});

test('refuses a foreign or null Origin, accepts its own', () => {
  assert.throws(() => guard.check({ host: 'localhost:8080', origin: 'https://evil.example' }), (e) => isGatehouseError(e, 'origin_not_allowed'));
  assert.throws(() => guard.check({ host: 'localhost:8080', origin: 'null' }), (e) => isGatehouseError(e, 'origin_not_allowed'));
  assert.doesNotThrow(() => guard.check({ host: 'localhost:8080', origin: 'http://localhost:8080' }));
  assert.doesNotThrow(() => guard.check({ host: 'gw.example.com', origin: 'https://gw.example.com' }));
});
