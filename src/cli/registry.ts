import type { Command } from './args.ts';

/**
 * One CLI command as `--help` lists it, without loading it: each command's module (and what it
 * imports: the config loader, Cedar, the store…) is imported only when that command runs, so
 * `--help`, `--version` and the thin API commands start fast. `registry.test.ts` checks that every
 * entry's name and summary equal the loaded command's.
 */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

const entry = (name: string, summary: string, load: () => Promise<Command>): CommandEntry => ({ name, summary, load });

/** Every command, registered explicitly, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  entry('start', 'Start the gateway', async () => (await import('./commands/start.ts')).start),
  entry('config validate', 'Validate a gatehouse.yaml against the published JSON Schema', async () => (await import('./commands/config.ts')).configValidate),
  entry('policy check', 'Validate the Cedar policies of the configuration against the schema', async () => (await import('./commands/policy.ts')).policyCheck),
  entry('policy explain', 'Show the decision for a request and the policies that produced it', async () => (await import('./commands/policy.ts')).policyExplain),
  entry('keys create', 'Create an API key (printed once)', async () => (await import('./commands/keys.ts')).keysCreate),
  entry('keys list', 'List API keys (never their values)', async () => (await import('./commands/keys.ts')).keysList),
  entry('keys revoke', 'Revoke an API key (effective at once)', async () => (await import('./commands/keys.ts')).keysRevoke),
  entry('reviews list', 'List reviews: your requests and those you may approve', async () => (await import('./commands/reviews.ts')).reviewsList),
  entry('reviews approve', 'Approve a review (never your own)', async () => (await import('./commands/reviews.ts')).reviewsApprove),
  entry('reviews deny', 'Deny a review; the held request fails with your reason', async () => (await import('./commands/reviews.ts')).reviewsDeny),
  entry('reviews revoke', 'Revoke an approval or a jit grant (effective at once)', async () => (await import('./commands/reviews.ts')).reviewsRevoke),
  entry('sessions list', 'List recorded sessions (newest first)', async () => (await import('./commands/sessions.ts')).sessionsList),
  entry('sessions replay', 'Replay a session in the terminal, in time order with its timing', async () => (await import('./commands/sessions.ts')).sessionsReplay),
  entry('sessions export', 'Export a session as json, csv or asciicast (v2, for asciinema players)', async () => (await import('./commands/sessions.ts')).sessionsExport),
  entry('sessions verify', 'Verify a session\'s hash chain and audit anchor (exit 1 when not intact)', async () => (await import('./commands/sessions.ts')).sessionsVerify),
  entry('login', 'Sign in with your identity provider (OIDC device flow, or SAML through the gateway); API commands then use the token', async () => (await import('./commands/login.ts')).login),
  entry('logout', 'Forget the token saved by gatehouse login', async () => (await import('./commands/login.ts')).logout),
];
