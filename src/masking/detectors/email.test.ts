import { describe } from 'node:test';
import { corpusTests } from './corpus.case.ts';
import { emailDetector } from './email.ts';

describe('emailDetector', () => {
  corpusTests(emailDetector, [
    ['contact: jane.doe@example.com', ['jane.doe@example.com']],
    ['<a href="mailto:ops+alerts@mail.corp.co.uk">', ['ops+alerts@mail.corp.co.uk']],
    ['Write to bob_99@sub-domain.io.', ['bob_99@sub-domain.io']],
    ['(x.y%z@a-b.c-d.org), and 1@2.de', ['x.y%z@a-b.c-d.org', '1@2.de']],
    ['.lead@example.com', ['lead@example.com']],
    ['A@B.CO', ['A@B.CO']],
    ['from "john doe"@example.com today', ['"john doe"@example.com']],
    ['json "to": "\\"j d\\"@example.com"', ['\\"j d\\"@example.com']],
    ['mail 用户@例子.广告 now', ['用户@例子.广告']],
    ['请联系bob@example.com获取', ['bob@example.com']],
    ['to x@xn--80ak6aa92e.xn--p1ai and почта@пример.рф', ['x@xn--80ak6aa92e.xn--p1ai', 'почта@пример.рф']],
    ["o'brien@example.com and 'bob@example.com'", ["o'brien@example.com", 'bob@example.com']],
    ['josé@exämple.com', ['josé@exämple.com']],
    ['用户@例子.广告.谢谢', ['用户@例子.广告']],
    ['见 用户@例子.com获取', ['用户@例子.com']],
  ], [
    '请问@张三.你好', '""@example.com', 'x@xn--.com', 'x@a.xn--', 'say "hi"\n@example.com',
    'npm i @types/node', 'user@localhost', 'me@server', '@mention and @here', 'git@github', 'a@b.c',
    'foo@bar.c0m', 'x@-bad.com', 'x@bad-.com', 'x.@example.com', '..x@example.com', 'a@b.co@c.co',
    'price: 5 @ 3.50 each', 'version 1.2.3 released 2024-01-15', 'decorator @Component({})',
  ]);
});
