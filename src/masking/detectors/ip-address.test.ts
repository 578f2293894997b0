import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { corpusTests } from './corpus.case.ts';
import { ipAddressDetector, validIpv6 } from './ip-address.ts';

describe('ipAddressDetector', () => {
  corpusTests(ipAddressDetector, [
    ['server 10.0.0.1 responded', ['10.0.0.1']],
    ['from 192.168.1.254.', ['192.168.1.254']],
    ['http://172.16.0.1:8080/x and 8.8.8.8/32', ['172.16.0.1', '8.8.8.8']],
    ['v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok', ['2001:0db8:85a3:0000:0000:8a2e:0370:7334']],
    ['link fe80::1ff:fe23:4567:890a, loop', ['fe80::1ff:fe23:4567:890a']],
    ['mapped ::ffff:192.0.2.128', ['::ffff:192.0.2.128', '192.0.2.128']],
    ['[2001:db8::1]:443', ['2001:db8::1']],
  ], [
    'v1.2.3.4', '1.2.3', '256.1.1.1', '01.2.3.4', '1.2.3.4.5', '10.0.0', '12:30:45', '2024-01-15T12:30:45Z',
    '00:1A:2B:3C:4D:5E', 'std::vector<int>', 'Foo::Bar', 'a::', '::1', '1:2:3:4:5:6:7', '1::2::3', 'note: see 10.0.0.x',
    'ab:cd:ef', 'version 2.14.3 from 1999',
  ]);
  test('IPv6 forms', () => {
    assert.equal(validIpv6('2001:db8::'), true);
    assert.equal(validIpv6('1:2:3:4:5:6:7:8'), true);
    assert.equal(validIpv6('1:2:3:4:5:6:7:8:9'), false);
    assert.equal(validIpv6('12345::1'), false);
  });
});
