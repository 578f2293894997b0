/**
 * The only values the fail-closed JSON walk (`json-walk.ts`) lets through without scanning: a
 * closed list of literal object keys and literal enum values of the OpenAI Chat Completions,
 * Responses and Anthropic Messages wire formats. Every entry is a fixed word of lower-case
 * letters, digits, `_`, `.` and `-` that no built-in detector matches (`structural.test.ts`
 * scans each one with every detector), so skipping it changes neither the facts nor the masked
 * output: the lists are a speed-up, not a trust decision about the provider. Anything not listed —
 * ids, model names, unknown keys, unknown enum values, every number a numeric detector could
 * match — is scanned. A masker with a user pattern (which could match anything) trusts nothing.
 *
 * Identifiers (`id`, `call_id`, `tool_call_id`, `signature` …) are deliberately not trusted: the
 * provider writes them, but an upstream (or a model whose output a provider copies into a field)
 * can put anything there, and an id of the provider's form can still carry an entity
 * (`call_AKIA…`, `chatcmpl-4111…`). Scanning them costs about a microsecond each; a real id never
 * matches a detector, so they pass unchanged.
 */

/** Object keys of the supported wire formats (requests and responses), and common JSON-schema keys. */
export const TRUSTED_KEYS: ReadonlySet<string> = new Set([
  // chat completions
  'model', 'messages', 'role', 'content', 'name', 'tool_calls', 'tool_call_id', 'function', 'arguments', 'type', 'id',
  'object', 'created', 'choices', 'index', 'message', 'delta', 'finish_reason', 'logprobs', 'top_logprobs', 'usage',
  'prompt_tokens', 'completion_tokens', 'total_tokens', 'prompt_tokens_details', 'completion_tokens_details',
  'cached_tokens', 'reasoning_tokens', 'audio_tokens', 'accepted_prediction_tokens', 'rejected_prediction_tokens',
  'system_fingerprint', 'service_tier', 'refusal', 'annotations', 'text', 'image_url', 'url', 'detail', 'input_audio',
  'data', 'format', 'file', 'file_id', 'file_data', 'filename', 'temperature', 'top_p', 'n', 'stream', 'stream_options',
  'include_usage', 'stop', 'max_tokens', 'max_completion_tokens', 'presence_penalty', 'frequency_penalty', 'logit_bias',
  'user', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'json_schema', 'schema', 'strict', 'seed',
  'functions', 'function_call', 'description', 'parameters', 'properties', 'required', 'items', 'enum',
  'additionalProperties', 'reasoning_effort', 'modalities', 'audio', 'voice', 'prediction', 'metadata', 'store',
  'web_search_options', 'search_context_size', 'user_location', 'approximate', 'country', 'city', 'region', 'timezone',
  'token', 'bytes', 'logprob', 'content_filter_results', 'prompt_filter_results',
  // responses API
  'input', 'instructions', 'output', 'output_text', 'previous_response_id', 'max_output_tokens', 'reasoning', 'effort',
  'summary', 'status', 'created_at', 'completed_at', 'error', 'incomplete_details', 'input_tokens', 'output_tokens',
  'input_tokens_details', 'output_tokens_details', 'call_id', 'item_id', 'output_index', 'content_index',
  'summary_index', 'sequence_number', 'response', 'item', 'part', 'truncation', 'include', 'background', 'conversation',
  'prompt_cache_key', 'safety_identifier', 'top_logprobs', 'max_tool_calls', 'text_format', 'verbosity', 'code',
  'param', 'obfuscation', 'encrypted_content', 'results', 'queries', 'action', 'query', 'sources', 'start_index',
  'end_index', 'title', 'image_url', 'container', 'outputs', 'server_label', 'server_url', 'allowed_tools',
  'require_approval', 'headers', 'result', 'annotation', 'annotation_index',
  // anthropic messages
  'system', 'max_tokens', 'stop_sequences', 'stop_reason', 'stop_sequence', 'top_k', 'tool_choice', 'input_schema',
  'tool_use_id', 'is_error', 'source', 'media_type', 'cache_control', 'thinking', 'budget_tokens', 'signature',
  'citations', 'content_block', 'cache_creation_input_tokens', 'cache_read_input_tokens', 'cache_creation',
  'server_tool_use', 'web_search_requests', 'partial_json', 'document_index', 'document_title', 'cited_text',
  'start_char_index', 'end_char_index', 'start_page_number', 'end_page_number', 'start_block_index', 'end_block_index',
  'ttl', 'disable_parallel_tool_use', 'container', 'context_management', 'mcp_servers',
  // JSON schema
  'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern', 'default', 'anyOf', 'oneOf', 'allOf',
  'const', 'nullable', '$schema', '$ref', '$defs', 'definitions', 'examples',
]);

/** Enum values of the supported wire formats (roles, object and event types, finish and stop reasons, statuses). */
export const TRUSTED_VALUES: ReadonlySet<string> = new Set([
  '', 'system', 'user', 'assistant', 'tool', 'function', 'developer',
  'text', 'image_url', 'input_audio', 'file', 'refusal', 'auto', 'none', 'required', 'low', 'high', 'medium', 'minimal',
  'stop', 'length', 'tool_calls', 'content_filter', 'function_call', 'default', 'flex', 'scale', 'priority',
  'chat.completion', 'chat.completion.chunk', 'list', 'json_object', 'json_schema', 'object', 'string', 'number',
  'integer', 'boolean', 'array', 'null', 'url_citation',
  'response', 'message', 'input_text', 'input_image', 'input_file', 'output_text', 'function_call_output', 'reasoning',
  'summary_text', 'reasoning_text', 'web_search_call', 'file_search_call', 'computer_call', 'code_interpreter_call',
  'image_generation_call', 'mcp_call', 'mcp_list_tools', 'custom_tool_call', 'completed', 'in_progress', 'incomplete',
  'failed', 'queued', 'cancelled', 'searching', 'disabled', 'concise', 'detailed', 'web_search', 'web_search_preview',
  'file_search', 'mcp', 'error', 'search',
  'response.created', 'response.in_progress', 'response.completed', 'response.failed', 'response.incomplete',
  'response.queued', 'response.output_item.added', 'response.output_item.done', 'response.content_part.added',
  'response.content_part.done', 'response.output_text.delta', 'response.output_text.done',
  'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.refusal.delta',
  'response.refusal.done', 'response.reasoning_summary_part.added', 'response.reasoning_summary_part.done',
  'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.done',
  'response.output_text.annotation.added',
  'image', 'document', 'base64', 'url', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'ephemeral',
  'enabled', 'any', 'end_turn', 'max_tokens', 'stop_sequence', 'pause_turn', 'server_tool_use',
  'web_search_tool_result', 'message_start', 'message_delta', 'message_stop', 'content_block_start',
  'content_block_delta', 'content_block_stop', 'ping', 'text_delta', 'input_json_delta', 'thinking_delta',
  'signature_delta', 'citations_delta', 'char_location', 'page_location', 'content_block_location',
  'web_search_result_location', 'api_error', 'overloaded_error', 'invalid_request_error',
  'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain', 'wav', 'mp3',
]);
