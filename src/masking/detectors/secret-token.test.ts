import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { corpusTests } from './corpus.case.ts';
import { secretTokenDetector } from './secret-token.ts';

const gh = 'ghp_' + 'aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5';
const pat = 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV';
const slack = 'xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx';
const openai = 'sk-proj-Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1De3Fg5Hi7';
const anthropic = 'sk-ant-api03-Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1De3Fg5Hi7Jk9Mn1Pq3St5-AA';
const stripe = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
const google = 'AIzaSyA-1234567890abcdefghijklmnopqrstu';
const gatehouse = 'ghk_' + 'Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1De3Fg5Hi7J';

describe('secretTokenDetector', () => {
  corpusTests(secretTokenDetector, [
    ['aws_access_key_id = AKIAIOSFODNN7EXAMPLE', ['AKIAIOSFODNN7EXAMPLE']],
    ['session ASIAY34FZKBOKMUTVV7A.', ['ASIAY34FZKBOKMUTVV7A']],
    [`GITHUB_TOKEN=${gh} and ${pat}`, [gh, pat]],
    [`slack: "${slack}"`, [slack]],
    [`OPENAI_API_KEY=${openai}; ANTHROPIC_API_KEY=${anthropic}`, [openai, anthropic]],
    [`stripe ${stripe}, maps ${google}, gatehouse ${gatehouse}`, [stripe, google, gatehouse]],
    ['legacy sk-Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1De3Fg5Hi7Jk9Mn1Pq', ['sk-Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1De3Fg5Hi7Jk9Mn1Pq']],
  ], [
    'AKIAIOSFODNN7EXAMPL', 'AKIAIOSFODNN7EXAMPLE1', 'xAKIAIOSFODNN7EXAMPLE', 'AKIAiosfodnn7example', 'ghp_short',
    'the task-force met; sk-learn is a library', 'sk-abcdefghijklmnopqrstuvwxyz', 'xoxb-short', 'AIzaShort',
    'ghk_tooShort123', 'a ghp_ prefix', 'risk_live_and_learn', 'desk-1234567890123456789012345',
  ]);
  test('findings carry the kind', () => {
    const kinds = secretTokenDetector.find(`AKIAIOSFODNN7EXAMPLE ${gh} ${slack} ${openai} ${anthropic} ${stripe} ${google} ${gatehouse}`).map((f) => f.kind);
    assert.deepEqual(kinds, ['aws_access_key', 'github_token', 'slack_token', 'openai_key', 'anthropic_key', 'stripe_key', 'google_api_key', 'gatehouse_key']);
  });
});
