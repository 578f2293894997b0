/**
 * fast-check generators of real-looking entities and of text around them, shared by the detector
 * conformance suite and the stream-masker property tests. Not a test file itself.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import type { EntityType } from './types.ts';

const DIGITS = '0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const ALNUM = UPPER + LOWER + DIGITS;
const B64URL = ALNUM + '-_';

/** A string of `n` characters drawn from `alphabet`. */
export function chars(alphabet: string, min: number, max = min): fc.Arbitrary<string> {
  return fc.array(fc.constantFrom(...Array.from(alphabet)), { minLength: min, maxLength: max }).map((a) => a.join(''));
}

/** Luhn check digit that completes `partial`. */
export function luhnDigit(partial: string): string {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** IBAN check digits for country `cc` and `bban`. */
export function ibanCheck(cc: string, bban: string): string {
  const s = bban + cc + '00';
  let rem = 0;
  for (const ch of s) rem = (rem * (/[0-9]/.test(ch) ? 10 : 100) + parseInt(ch, 36)) % 97;
  return String(98 - rem).padStart(2, '0');
}

/** A generated entity: its text and the type a detector should report for it. */
export interface Entity {
  readonly entity: EntityType;
  /** The text inserted (may include context such as `password=`). */
  readonly value: string;
  /** The part that must never appear unmasked (the value without its context). */
  readonly secret: string;
}

function ent(entity: EntityType, value: string, secret = value): Entity {
  return { entity, value, secret };
}

const plainEmail = fc.tuple(chars(LOWER, 1, 8), fc.option(chars(LOWER + DIGITS, 1, 6), { nil: undefined }), chars(LOWER, 2, 10), fc.constantFrom('com', 'org', 'io', 'co.uk', 'de', 'xn--p1ai'))
  .map(([a, b, d, tld]): Entity => ent('EMAIL', `${a}${b === undefined ? '' : '.' + b}@${d}.${tld}`));
/** Quoted local parts, other scripts and punycode domains. */
const otherEmail = fc.oneof(
  fc.tuple(chars(LOWER, 1, 6), chars(LOWER, 1, 6), chars(LOWER, 2, 8)).map(([a, b, d]): Entity => ent('EMAIL', `"${a} ${b}"@${d}.com`)),
  fc.tuple(chars('用户名字邮件', 1, 4), chars('例子公司网站', 1, 4), fc.constantFrom('广告', '中国', 'com')).map(([a, d, tld]): Entity => ent('EMAIL', `${a}@${d}.${tld}`)),
  fc.tuple(chars('почтаимя', 2, 6), chars('примерсайт', 2, 6)).map(([a, d]): Entity => ent('EMAIL', `${a}@${d}.рф`)),
  fc.tuple(chars(LOWER, 1, 6), chars(LOWER + DIGITS, 4, 10)).map(([a, d]): Entity => ent('EMAIL', `${a}@xn--${d}.xn--p1ai`)),
);
const email = fc.oneof({ weight: 3, arbitrary: plainEmail }, { weight: 1, arbitrary: otherEmail });

const card = fc.tuple(fc.constantFrom(['4', 16], ['51', 16], ['2221', 16], ['34', 15], ['37', 15], ['6011', 16], ['3530', 16], ['62', 16], ['4', 13]), fc.nat(), fc.constantFrom('', ' ', '-', '.', '  ', ' - ', 'one by one'))
  .chain(([[prefix, len], , sep]) => chars(DIGITS, len - prefix.length - 1).map((body): Entity => {
    const partial = prefix + body;
    const digits = partial + luhnDigit(partial);
    // One digit at a time, with '-' or '.' (a run of single digits after a space is ambiguous when
    // a digit precedes the space: "v1.2.3 4 1 1 1 …").
    if (sep === 'one by one') return ent('CREDIT_CARD', digits.split('').join(len === 15 ? '.' : '-'));
    const groups = len === 16 ? [4, 4, 4, 4] : len === 15 ? [4, 6, 5] : [len];
    let out = '';
    let i = 0;
    for (const g of groups) { out += (i === 0 ? '' : sep) + digits.slice(i, i + g); i += g; }
    return ent('CREDIT_CARD', sep === '' ? digits : out);
  }));

const ssn = fc.tuple(fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 9999 }), fc.constantFrom('-', '-', '.'))
  .map(([a, g, s, sep]): Entity => ent('US_SSN', `${String(a).padStart(3, '0')}${sep}${String(g).padStart(2, '0')}${sep}${String(s).padStart(4, '0')}`));

const iban = fc.tuple(fc.constantFrom(['DE', DIGITS, 18], ['FR', DIGITS, 23], ['NL', UPPER, 14], ['GB', UPPER, 18]), fc.boolean())
  .chain(([[cc, alpha, n], spaced]) => fc.tuple(chars(alpha, 4), chars(DIGITS, n - 4)).map(([bank, rest]): Entity => {
    const bban = bank + rest;
    const compact = cc + ibanCheck(cc, bban) + bban;
    return ent('IBAN', spaced ? compact.replace(/(.{4})(?!$)/g, '$1 ') : compact);
  }));

const aws = chars(UPPER + DIGITS, 16).map((s): Entity => ent('SECRET', `AKIA${s}`));
const github = chars(ALNUM, 36).map((s): Entity => ent('SECRET', `ghp_${s}`));
const generic = fc.tuple(
  fc.constantFrom('password=', 'db_password: ', '"api_key": "', "client_secret = '", 'Authorization: Bearer ', 'AUTHORIZATION_HEADER_VALUE_FOR_PROXY"  :  "Bearer ', 'token='),
  chars(ALNUM + '#%!', 12, 24).filter((s) => new Set(s).size >= 10),
).map(([context, s]): Entity => ent('SECRET', `${context}${s}`, s));
const awsSecret = chars(ALNUM + '/+', 40).map((s): Entity => ent('SECRET', `aws_secret_access_key = ${s}`, s));
const bareSsn = fc.tuple(fc.constantFrom('SSN ', 'ssn: ', 'Social Security number is ', 'SSN on file for the customer: '), fc.integer({ min: 100, max: 665 }), fc.integer({ min: 10, max: 99 }), fc.integer({ min: 1000, max: 9999 }))
  .map(([context, a, g, s]): Entity => ent('US_SSN', `${context}${a}${g}${s}`, `${a}${g}${s}`));

const b64 = (s: string): string => Buffer.from(s).toString('base64url');
const jwt = fc.tuple(fc.constantFrom('HS256', 'RS256', 'ES256'), chars(LOWER + DIGITS, 4, 12), chars(B64URL, 43))
  .map(([alg, sub, sig]): Entity => ent('JWT', `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${b64(JSON.stringify({ sub }))}.${sig}`));

const pem = fc.tuple(fc.constantFrom('RSA PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'PRIVATE KEY'), fc.array(chars(ALNUM + '+/', 64), { minLength: 1, maxLength: 4 }))
  .map(([label, lines]): Entity => ent('PRIVATE_KEY', `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`));

const phone = fc.tuple(fc.integer({ min: 200, max: 999 }), fc.integer({ min: 200, max: 999 }), fc.integer({ min: 0, max: 9999 }), fc.constantFrom('intl', 'paren', 'dash', 'dot'))
  .map(([a, e, n, style]): Entity => {
    const nnnn = String(n).padStart(4, '0');
    const value = style === 'intl' ? `+1 ${a} ${e} ${nnnn}` : style === 'paren' ? `(${a}) ${e}-${nnnn}` : style === 'dash' ? `${a}-${e}-${nnnn}` : `${a}.${e}.${nnnn}`;
    return ent('PHONE', value);
  });

const ipv4 = fc.tuple(fc.integer({ min: 1, max: 255 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 }))
  .map((o): Entity => ent('IP_ADDRESS', o.join('.')));
const ipv6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
  .map((g): Entity => ent('IP_ADDRESS', g.map((x) => x.toString(16)).join(':')));

/** One real-looking entity of any type. */
export const entityArb: fc.Arbitrary<Entity> = fc.oneof(email, card, ssn, bareSsn, iban, aws, awsSecret, github, generic, jwt, pem, phone, ipv4, ipv6);

/** Ordinary text, including look-alikes that must stay (versions, dates, ids, hashes, base64). */
const fillerWord = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('the', 'order', 'shipped', 'to', 'Alice', 'and', 'then', 'note:', 'see', 'héllo', '😀', 'naïve', 'A', 'is', 'of') },
  { weight: 2, arbitrary: fc.constantFrom('v1.2.3', '2024-01-15', '12:30:45', '2024-01-15T12:30:45Z', '550e8400-e29b-41d4-a716-446655440000', '3f786850e387550fdab836ed7e6dc881de23001b', 'aGVsbG8gd29ybGQ=', 'eyJub3QiOiJhIGp3dCJ9', '#12345678', '4111 1111 1111 1112', '000-12-3456', 'GB00 WEST 1234 5698 7654 32', 'std::vector', '1.0.0.0.1') },
  { weight: 1, arbitrary: fc.constantFrom('\n', '.', ',', '"', ':', '(', ')', '-', '@', '=', '  ') },
);

/** Text made of filler words separated by spaces. */
export const fillerArb: fc.Arbitrary<string> = fc.array(fillerWord, { maxLength: 12 }).map((w) => w.join(' '));

/** Filler with entities at random places (each entity surrounded by spaces), and the entities. */
export const textWithEntitiesArb: fc.Arbitrary<{ text: string; entities: Entity[] }> = fc
  .array(fc.tuple(fillerArb, fc.option(entityArb, { nil: undefined, freq: 2 })), { minLength: 1, maxLength: 8 })
  .map((parts) => {
    let text = '';
    const entities: Entity[] = [];
    for (const [filler, ent] of parts) {
      text += filler;
      if (ent !== undefined) { text += ` ${ent.value} `; entities.push(ent); }
    }
    return { text, entities };
  });

/** Characters that sit at entity edges: glued to entities they stress every boundary rule. */
const edgeChar = fc.constantFrom(...'@.-:_ +()[]=/"\'\n0123456789abcdefAZ#,\\用é'.split(''), 'eyJ', '-----BEGIN ', 'sk-', 'password=', 'SSN ', '3.', '1,', '..', 'x.', '"a b"');

/** Entities, filler and edge characters glued together with no separators (a detector stress soup). */
export const soupArb: fc.Arbitrary<string> = fc
  .array(fc.oneof(entityArb.map((e) => e.value), fillerWord, edgeChar), { maxLength: 14 })
  .map((a) => a.join(''));

/** Split points for a text of length `n`: chunk sizes, often 1. */
export function chunkSizesArb(): fc.Arbitrary<number[]> {
  return fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 200 })), { minLength: 1, maxLength: 60 });
}

/** `text` cut into chunks of the given sizes (cycled), covering all of it. */
export function splitBySizes(text: string, sizes: readonly number[]): string[] {
  const out: string[] = [];
  let i = 0;
  let k = 0;
  while (i < text.length) {
    const n = sizes[k % sizes.length]!;
    out.push(text.slice(i, i + n));
    i += n;
    k++;
  }
  return out;
}
