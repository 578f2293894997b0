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
  ], [
    'npm i @types/node', 'user@localhost', 'me@server', '@mention and @here', 'git@github', 'a@b.c',
    'foo@bar.c0m', 'x@-bad.com', 'x@bad-.com', 'x.@example.com', '..x@example.com', 'a@b.co@c.co',
    'price: 5 @ 3.50 each', 'version 1.2.3 released 2024-01-15', 'decorator @Component({})',
  ]);
});
