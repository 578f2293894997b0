import { startTestGateway, type TestGateway } from './gateway.ts';
import { startFakeLlm, FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, type FakeLlm } from './fake-llm.ts';
import { MemoryRecorder } from '../../src/recording/recorder.ts';

/** Cedar policies of the LLM data-path tests. */
export const LLM_POLICIES = `
@id("developers-use-models-and-apis")
permit (principal in Group::"developers", action in [Action::"llm.invoke", Action::"http.request"], resource);

@id("no-secrets-to-external-models")
forbid (principal, action == Action::"llm.invoke", resource)
when { context has llm && context.llm.secret_types.containsAny(["SECRET", "PRIVATE_KEY", "JWT"]) };

@id("http-no-delete")
forbid (principal, action == Action::"http.request", resource)
when { context has http && context.http.method == "DELETE" };
`;

/** A gateway in front of a fake LLM upstream, with a developer key. */
export interface LlmGateway {
  readonly t: TestGateway;
  readonly fake: FakeLlm;
  readonly key: string;
  readonly recorder: MemoryRecorder;
  /** `http://gw/proxy/<name>` */
  base(name: string): string;
  close(): Promise<void>;
}

/**
 * Boots the gateway with connections `openai`, `anthropic`, `compat` (openai-compatible),
 * `api` (http, bearer), `slow` (headers timeout 300ms), `closed` (a closed port) and a masking
 * rule on every connection (both directions) for EMAIL, CREDIT_CARD, US_SSN, PHONE.
 */
export async function startLlmGateway(opts: { closedPort?: number; extraYaml?: string } = {}): Promise<LlmGateway> {
  const fake = await startFakeLlm();
  const recorder = new MemoryRecorder();
  const yaml = `
connections:
  - { name: openai, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }
  - { name: anthropic, type: llm, provider: anthropic, url: "${fake.url}", credentials: { api_key: "${FAKE_ANTHROPIC_KEY}" } }
  - { name: compat, type: llm, provider: openai-compatible, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" } }
  - { name: api, type: http, url: "${fake.url}/base", credentials: { bearer: "upstream-bearer-token" } }
  - { name: slow, type: llm, provider: openai, url: "${fake.url}", credentials: { api_key: "${FAKE_OPENAI_KEY}" }, timeouts: { headers: 300ms } }
  - { name: closed, type: llm, provider: openai, url: "http://127.0.0.1:${opts.closedPort ?? 9}", credentials: { api_key: "x" }, timeouts: { connect: 2s } }
masking:
  rules:
    - connections: ["*"]
      direction: both
      entities: [EMAIL, CREDIT_CARD, US_SSN, PHONE]
      strategy: redact
${opts.extraYaml ?? ''}`;
  const t = await startTestGateway({ yaml, policies: LLM_POLICIES, recorder });
  const created = await t.api('POST', '/api/v1/api-keys', { user: 'alice', groups: ['developers'], agent: 'helper' });
  if (created.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(created.json)}`);
  return {
    t, fake, recorder, key: created.json.key as string,
    base: (name) => `${t.url}/proxy/${name}`,
    async close() {
      await t.close();
      await fake.close();
    },
  };
}
