import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { McpDeps } from './deps.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import { challenge } from './auth.ts';
import { mcpResource, metadataUrl, protectedResourceMetadata } from './metadata.ts';

const svc = {
  publicUrl: 'https://gw.example',
  config: { identity: { issuers: [{ issuer: 'https://idp.example' }, { issuer: 'https://gw.example' }] } },
} as unknown as Pick<McpDeps, 'publicUrl' | 'config'>;

test('RFC 9728 document: resource, authorization servers (built-in first, no duplicates), header bearer only', () => {
  assert.equal(mcpResource(svc), 'https://gw.example/mcp');
  assert.equal(metadataUrl(svc), 'https://gw.example/.well-known/oauth-protected-resource/mcp');
  assert.deepEqual(protectedResourceMetadata(svc), {
    resource: 'https://gw.example/mcp',
    authorization_servers: ['https://gw.example', 'https://idp.example'],
    bearer_methods_supported: ['header'],
    resource_name: 'Gatehouse MCP server',
  });
});

test('the 401 challenge names the metadata; a rejected token adds error="invalid_token" without quotes from the detail', () => {
  assert.equal(challenge(svc), 'Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp"');
  assert.equal(challenge(svc, new GatehouseError('unauthenticated')), challenge(svc));
  assert.equal(
    challenge(svc, new GatehouseError('invalid_token', 'token "x" is bad')),
    'Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="token x is bad"',
  );
});
