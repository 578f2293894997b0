/**
 * The HTTP/LLM protocol's declaration (see src/protocols/contract.ts): the `llm` and `http`
 * connection types, `llm.invoke` and `http.request`, `context.llm` and `context.http`. Served on
 * the HTTP listener at `/proxy/<connection>/…` (no listener of its own).
 */
import { defineProtocol, factsDecl } from '../contract.ts';
import { list, oneOf, str } from '../../kernel/json-schema.ts';
import type { HttpFacts, LlmFacts } from './facts.ts';

/** LLM wire formats (`connections[].provider`). */
export const LLM_PROVIDERS = ['openai', 'anthropic', 'openai-compatible'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

const LLM_CONTEXT = `{
    // "openai" | "anthropic" | "openai-compatible".
    provider: String,
    // Upper-case method, e.g. "POST" (a DELETE of /v1/files/<id> has the read's endpoint).
    method: String,
    // The upstream endpoint, e.g. "/v1/chat/completions".
    endpoint: String,
    // The requested model name.
    model: String,
    // Whether a streamed response was requested.
    stream: Bool,
    // Names of the tools offered to the model.
    tools: Set<String>,
    // Credential entity types found in the prompt: "SECRET", "PRIVATE_KEY", "JWT".
    secret_types: Set<String>,
    // PII types found in the prompt (e.g. "EMAIL", "US_SSN").
    pii_types: Set<String>,
    // Total number of findings (secrets and PII).
    findings: Long,
    // Binary payloads in the request (data: URLs and base64 sources whose bytes are not text:
    // images, audio, PDFs …). Text payloads are decoded and scanned like any other text instead.
    attachments: Long,
    // Their declared media types, e.g. "image/png" ("application/octet-stream" when undeclared).
    attachment_types: Set<String>,
    // Their total decoded size in bytes.
    attachment_bytes: Long,
  }`;

const HTTP_CONTEXT = `{
    // Upper-case method, e.g. "GET".
    method: String,
    // Path below the connection as forwarded, e.g. "/v1/items": percent-encoded unreserved
    // characters decoded, other escapes upper-cased, case kept (ambiguous forms are refused).
    path: String,
    // The same path, lower-cased: for rules that must hold whatever the case.
    path_lower: String,
  }`;

const HEADER_NAME = '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$';

/** The HTTP/LLM protocol module. */
export const httpProtocol = defineProtocol({
  name: 'http',
  recording: 'http',
  sessions: 'exchanges',
  connectionTypes: [
    {
      type: 'llm',
      summary: 'an LLM API (OpenAI, Anthropic or OpenAI-compatible), reached at /proxy/<connection>/…',
      actions: ['llm.invoke'],
      urlSchemes: ['http', 'https'],
      mcpTool: 'call_llm',
      credentials: {
        api_key: { description: 'LLM API key (sent as "Authorization: Bearer" for openai, "x-api-key" for anthropic).' },
      },
      fields: {
        provider: oneOf('LLM wire format; required when type is llm and not allowed otherwise.', LLM_PROVIDERS),
      },
      required: ['provider'],
      resourceAttributes: { provider: '"openai" | "anthropic" | "openai-compatible".' },
    },
    {
      type: 'http',
      summary: 'an HTTP API, reached at /proxy/<connection>/…',
      actions: ['http.request'],
      urlSchemes: ['http', 'https'],
      mcpTool: 'http_request',
      credentials: {
        username: { description: 'User name for HTTP basic auth (with password).' },
        password: { description: 'HTTP basic-auth password (with username).' },
        bearer: { description: 'Bearer token ("Authorization: Bearer <bearer>").' },
        header_name: { description: 'Name of a custom header carrying the credential (with header_value).', kind: 'name', pattern: HEADER_NAME },
        header_value: { description: 'Value of the custom credential header named by header_name.' },
      },
      credentialDependencies: { header_name: ['header_value'], header_value: ['header_name'] },
      fields: {
        pass_media_types: list(
          'http connections: response (and, with a request masking rule, request) media types passed without being parsed or masked, e.g. "application/pdf", "image/*". Everything else the gateway cannot read (JSON, NDJSON, form data, XML/HTML, plain text, SSE) is refused while a masking rule applies. Passed bodies are still scrubbed of the connection\'s own secrets. "*/*" passes everything: masking rules then cover only the readable types.',
          str('A media type "type/subtype", "type/*" or "*/*".', { pattern: '^([a-z0-9][a-z0-9!#$&^_.+-]{0,126}/([a-z0-9][a-z0-9!#$&^_.+-]{0,126}|\\*)|\\*/\\*)$' }),
          { uniqueItems: true },
        ),
      },
    },
  ],
  actions: [
    { name: 'llm.invoke', resources: ['Connection'] },
    { name: 'http.request', resources: ['Connection'] },
  ],
  facts: {
    llm: factsDecl<LlmFacts>({
      doc: 'LLM request facts from the prompt inspector: types and counts, never values.',
      cedarType: LLM_CONTEXT,
      toContext: (l) => ({
        provider: l.provider, method: l.method ?? 'POST', endpoint: l.endpoint, model: l.model, stream: l.stream, tools: [...l.tools],
        secret_types: [...l.secret_types], pii_types: [...l.pii_types], findings: l.findings,
        attachments: l.attachments ?? 0, attachment_types: [...(l.attachment_types ?? [])], attachment_bytes: l.attachment_bytes ?? 0,
      }),
    }),
    http: factsDecl<HttpFacts>({
      doc: 'HTTP request facts.',
      cedarType: HTTP_CONTEXT,
      toContext: (h) => ({ method: h.method, path: h.path, path_lower: h.path_lower ?? h.path.toLowerCase() }),
    }),
  },
});
