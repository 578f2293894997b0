/** The facts of an MCP tool call (`context.mcp`). */

/** The tool being called. */
export interface McpFacts { readonly tool: string }
