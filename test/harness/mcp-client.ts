import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ProgressCallback } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** An MCP SDK client connected to a gateway's `/mcp` with a bearer credential. */
export interface McpTestClient {
  readonly client: Client;
  /** Calls a tool; returns the result as the SDK parsed and validated it. */
  call(name: string, args?: Record<string, unknown>, onprogress?: ProgressCallback): Promise<CallToolResult>;
  close(): Promise<void>;
}

/**
 * Connects the official MCP TypeScript SDK client (`Client` + `StreamableHTTPClientTransport`) to
 * `<baseUrl>/mcp`, sending `Authorization: Bearer <token>` on every request.
 *
 * @example
 *   const c = await mcpClient(t.url, key);
 *   const r = await c.call('whoami');
 *   await c.close();
 */
export async function mcpClient(baseUrl: string, token: string): Promise<McpTestClient> {
  const client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return {
    client,
    async call(name, args = {}, onprogress) {
      const r = await client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress, timeout: 120_000 } : { timeout: 120_000 });
      return r as CallToolResult;
    },
    async close() {
      await client.close();
    },
  };
}

/** The text content of a tool result, joined. */
export function resultText(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}
