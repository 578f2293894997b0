/**
 * The MCP server's declaration (see src/protocols/contract.ts): `mcp.call` and `context.mcp`.
 * It serves no connection type of its own: its tools act on the other protocols' connections.
 * Mounted on the HTTP listener at `/mcp`.
 */
import { defineProtocol, factsDecl } from '../contract.ts';
import type { McpFacts } from './facts.ts';

/** The MCP protocol module. */
export const mcpProtocol = defineProtocol({
  name: 'mcp',
  recording: 'mcp',
  sessions: 'exchanges',
  connectionTypes: [],
  actions: [{
    name: 'mcp.call',
    resources: ['Connection', 'Gateway'],
    doc: 'Calling a tool of the gateway\'s MCP server (`/mcp`), with the tool name in `context.mcp.tool`.\n'
      + 'The resource is the Connection the tool acts on (its `connection` argument), or\n'
      + 'Gateway::"gatehouse" for tools that name none (whoami, list_connections, reviews, sessions).\n'
      + 'The tool\'s own action (sql.*, llm.invoke, http.request, review.approve ...) is decided too.',
  }],
  facts: {
    mcp: factsDecl<McpFacts>({
      doc: 'MCP request facts.',
      cedarType: '{\n    // The tool being called.\n    tool: String,\n  }',
      toContext: (m) => ({ tool: m.tool }),
    }),
  },
  refusedConnectionTypes: {
    mcp: 'Upstream MCP servers have no data path yet, so their policy, masking and recording would never apply. '
      + 'Gatehouse itself is an MCP server at /mcp; reach HTTP tools through an "http" connection.',
  },
});
