import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import { corpusTests } from './corpus.case.ts';
import { isJoseHeader, jwtDetector } from './jwt.ts';

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const jws = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: '1234567890', name: 'John' })}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;
const none = `${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.`;
const jwe = `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ`;

describe('jwtDetector', () => {
  corpusTests(jwtDetector, [
    [`Authorization: Bearer ${jws}`, [jws]],
    [`token="${jws}".`, [jws]],
    [`unsigned ${none} end`, [none]],
    [`jwe ${jwe}`, [jwe]],
  ], [
    `x${jws}`, `${jws}.more`, `${b64({ typ: 'JWT' })}.${b64({ a: 1 })}.sig`, 'eyJub3QiOiJhIGp3dCJ9', 'aGVsbG8gd29ybGQ=.aGk.aGk',
    `eyJhbGciOiJIUzI1NiJ9`, `${b64({ alg: 'HS256' })}..sig`, 'eyJ!!!.abc.def', 'the eyJ prefix alone',
    'dGhpcyBpcyBub3QgYSBqd3Q.dGhpcyBpcyBub3QgYSBqd3Q.dGhpcyBpcyBub3QgYSBqd3Q',
  ]);
  test('header check', () => {
    assert.equal(isJoseHeader(b64({ alg: 'ES256' })), true);
    assert.equal(isJoseHeader(b64({ alg: 5 })), false);
    assert.equal(isJoseHeader(b64([1, 2])), false);
    assert.equal(isJoseHeader('eyJhbGciOi'), false);
  });
});
