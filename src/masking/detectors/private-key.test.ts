import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { corpusTests, matched } from './corpus.case.ts';
import { privateKeyDetector } from './private-key.ts';

const rsa = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\nZ1BjP5CE/Wm/Rr500P\n-----END RSA PRIVATE KEY-----';
const ssh = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----';
const pkcs8 = '-----BEGIN PRIVATE KEY-----\r\nMC4CAQAwBQYDK2VwBCIEIA\r\n-----END PRIVATE KEY-----';
const ec = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY\n-----END EC PRIVATE KEY-----';
const pgp = '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----';

describe('privateKeyDetector', () => {
  corpusTests(privateKeyDetector, [
    [`key:\n${rsa}\nthanks`, [rsa]],
    [`${ssh} and ${pkcs8}`, [ssh, pkcs8]],
    [`"${ec.replace(/\n/g, '\\n')}"`, [ec.replace(/\n/g, '\\n')]],
    [pgp, [pgp]],
  ], [
    '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----',
    '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host', 'BEGIN RSA PRIVATE KEY', '-----BEGIN rsa private key-----',
  ]);
  test('an unterminated block fails closed: masked to the end of the text, at most 16 KiB', () => {
    const open = `text -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi`;
    assert.deepEqual(matched(privateKeyDetector, open), [open.slice(5)]);
    const huge = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(20_000)}`;
    const [f] = privateKeyDetector.find(huge);
    assert.deepEqual(f, { entity: 'PRIVATE_KEY', start: 0, end: 16_384 });
    assert.equal(privateKeyDetector.pendingFrom(huge), huge.length, 'a block past its bound is final');
    assert.equal(privateKeyDetector.pendingFrom(open), 5, 'an open block is held');
    assert.equal(privateKeyDetector.pendingFrom('text ---'), 5, 'a marker may be arriving');
    assert.equal(privateKeyDetector.pendingFrom('text -----BEGIN EC PRIV'), 5, 'a header may be arriving');
    const cert = 'text -----BEGIN CERTIFICATE-----\nMII';
    assert.equal(privateKeyDetector.pendingFrom(cert), cert.length, 'a certificate is not held');
  });
  test('many BEGIN lines without END stay linear', () => {
    const text = '-----BEGIN PRIVATE KEY-----\n'.repeat(20_000);
    const t0 = performance.now();
    assert.equal(privateKeyDetector.find(text).length, 20_000);
    assert.ok(performance.now() - t0 < 2_000);
  });
});
