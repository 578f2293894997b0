/**
 * Key context: a JSON member whose key names a credential holds a secret whatever the value looks
 * like (`{"api_key": "Xy7#pQ2vLm9zR"}`, `{"password": "hunter2"}`), as `api_key=…` inside a text
 * already is for the generic-secret detector. Keys are compared case- and separator-insensitively
 * (`API-Key`, `apiKey`, `api_key` and `APIKEY` are the same key).
 */

/** Normalized key fragments that name a credential wherever they appear in the key. */
const CONTAINS = /password|passwd|passphrase|secret|apikey|accesskey|privatekey|signingkey|encryptionkey|authorization|credential|clientsecret|sessionkey|cookie|bearer/;
/** Normalized key endings that name a credential (`access_token`, `authToken`, `db_pwd`); `max_tokens` is not one. */
const ENDS = /(token|pwd|pass|auth|authkey|pin|otp|passcode|jwt|sessionid|connectionstring|dsn)$/;

const cache = new Map<string, boolean>();
const CACHE_LIMIT = 4096;

/**
 * True when `key` names a credential: after lower-casing and removing everything but letters and
 * digits it contains `password`, `passwd`, `passphrase`, `secret`, `apikey`, `accesskey`,
 * `privatekey`, `signingkey`, `encryptionkey`, `authorization`, `credential`, `clientsecret`,
 * `sessionkey`, `cookie` or `bearer`, or ends with `token`, `pwd`, `pass`, `auth`, `authkey`,
 * `pin`, `otp`, `passcode`, `jwt`, `sessionid`, `connectionstring` or `dsn`.
 *
 * @example isCredentialKey('X-Api-Key') === true; isCredentialKey('max_tokens') === false
 */
export function isCredentialKey(key: string): boolean {
  if (key.length > 128) return CONTAINS.test(normalize(key));
  let v = cache.get(key);
  if (v === undefined) {
    const n = normalize(key);
    v = CONTAINS.test(n) || ENDS.test(n);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, v);
  }
  return v;
}

/** NFKC (full-width letters become ASCII), lower case, letters and digits only (separators, zero-width characters dropped). */
function normalize(key: string): string {
  return key.normalize('NFKC').toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** A replacement the maskers write (`[SECRET]`, `[EMAIL]`): re-sending one is not a new secret. */
export function isPlaceholder(s: string): boolean {
  return s.length < 40 && /^\[[A-Z_]+\]$/.test(s);
}
