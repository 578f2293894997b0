import type { ToolRegistration } from '../env.ts';
import { describeConnectionTool, listConnectionsTool } from './connections.ts';
import { callLlmTool, httpRequestTool } from './proxy-tools.ts';
import { queryTool } from './query.ts';
import { runCommandTool } from './run-command.ts';
import { reviewApproveTool, reviewDenyTool, reviewGetTool, reviewsListTool, reviewWaitTool } from './reviews.ts';
import { sessionGetTool, sessionsListTool } from './sessions.ts';
import { whoamiTool } from './whoami.ts';

/** Every tool of the MCP server, registered explicitly, in the order `tools/list` shows them. */
export const TOOLS: readonly ToolRegistration[] = [
  whoamiTool, listConnectionsTool, describeConnectionTool, queryTool, runCommandTool, callLlmTool, httpRequestTool,
  reviewsListTool, reviewGetTool, reviewWaitTool, reviewApproveTool, reviewDenyTool, sessionsListTool, sessionGetTool,
];

/** The tool names, for docs and tests. */
export const TOOL_NAMES = [
  'whoami', 'list_connections', 'describe_connection', 'query', 'run_command', 'call_llm', 'http_request',
  'reviews_list', 'review_get', 'review_wait', 'review_approve', 'review_deny', 'sessions_list', 'session_get',
] as const;
