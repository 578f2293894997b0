import { randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT,
  type CryptoKey, type JWK,
} from 'jose';
import type { Clock } from '../kernel/clock.ts';
import { GatehouseError, isGatehouseError } from '../kernel/errors.ts';
import { open as openSealed, seal } from '../store/crypto-box.ts';
import type { SqlDriver, SqlExecutor } from '../store/sql.ts';
import { claimsFor, principalFromClaims } from './issuer-claims.ts';
import type { Principal } from './principal.ts';

const ALG = 'ES256';
const TYP = 'at+jwt';
/** Accepted difference between our clock and the clock that checks (or made) a token. */
export const CLOCK_SKEW_S = 30;
/** How long a replica may sign with a key it loaded before it re-reads the store. */
const RELOAD_MS = 30_000;
const MAX_TOKEN_CHARS = 16 * 1024;
/** Serializes key creation and rotation across replicas (arbitrary constant). */
const KEYS_LOCK = 7_314_002;

/** Settings of the built-in issuer. `masterKey` (crypto-box) seals private keys at rest when given. */
export interface IssuerOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly tokenTtlMs: number;
  readonly masterKey?: Buffer;
}

interface KeyRow { kid: string; private_jwk: unknown; public_jwk: JWK; status: 'active' | 'retired'; retired_at: Date | null }
interface ActiveKey { readonly kid: string; readonly privateKey: CryptoKey }
interface LoadedKey { readonly kid: string; readonly publicJwk: JWK; readonly publicKey: CryptoKey; readonly retiredAt: number | undefined }

/**
 * The built-in token issuer: ES256 JWT access tokens (RFC 9068 `typ: at+jwt`) signed with keys kept
 * in the store, so every replica issues and verifies the same tokens. One key is active; after
 * {@link BuiltinIssuer.rotate} the old one stays published and accepted while tokens it signed may
 * still be valid.
 *
 * @example
 *   const issuer = await BuiltinIssuer.open(db, clock, { issuer: 'https://gw.example', audience: 'gatehouse', tokenTtlMs: 3_600_000 });
 *   const { access_token } = await issuer.issue({ kind: 'agent', id: 'bot', groups: [], via: 'api_key' });
 *   const p = await issuer.verify(access_token); // { kind: 'agent', id: 'bot', via: 'gatehouse_jwt', … }
 */
export class BuiltinIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly #db: SqlDriver;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #masterKey: Buffer | undefined;
  #keys = new Map<string, LoadedKey>();
  #active: ActiveKey | undefined;
  #loadedAt = 0;

  private constructor(db: SqlDriver, clock: Clock, opts: IssuerOptions) {
    if (!(opts.tokenTtlMs >= 1000)) throw new GatehouseError('config_invalid', 'token TTL must be at least 1s');
    this.issuer = opts.issuer;
    this.audience = opts.audience;
    this.#db = db;
    this.#clock = clock;
    this.#ttlMs = opts.tokenTtlMs;
    this.#masterKey = opts.masterKey;
  }

  /** Opens the issuer, creating the first signing key when there is none. Safe from several replicas at once. */
  static async open(db: SqlDriver, clock: Clock, opts: IssuerOptions): Promise<BuiltinIssuer> {
    const issuer = new BuiltinIssuer(db, clock, opts);
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
      const active = await tx.query('SELECT kid FROM signing_keys WHERE status = $1', ['active']);
      if (active.length === 0) await issuer.#insertKey(tx);
    });
    await issuer.#load();
    return issuer;
  }

  /** The public keys (active and recently retired), for `/oauth/jwks`. Never private material. */
  jwks(): { keys: JWK[] } {
    const now = this.#clock.now();
    return { keys: [...this.#keys.values()].filter((k) => this.#usable(k, now)).map((k) => ({ ...k.publicJwk })) };
  }

  /** OpenID/RFC 8414 discovery document for `/.well-known/openid-configuration`. */
  discovery(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/oauth/jwks`,
      token_endpoint: `${this.issuer}/oauth/token`,
      grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      // No authorization endpoint: tokens come from the token endpoint only.
      response_types_supported: [],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [ALG],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    };
  }

  /**
   * Signs a token for `p`. It expires after the configured TTL, or earlier at `p.expiresAt` or
   * `opts.expiresAt` (a derived token never outlives the credential it came from).
   */
  async issue(p: Principal, opts: { expiresAt?: number } = {}): Promise<{ access_token: string; expires_in: number }> {
    const now = this.#clock.now();
    if (now - this.#loadedAt > RELOAD_MS) await this.#load();
    const active = this.#active;
    if (!active) throw new GatehouseError('internal', 'the issuer has no active signing key');
    const iat = Math.floor(now / 1000);
    const until = Math.min(now + this.#ttlMs, p.expiresAt ?? Infinity, opts.expiresAt ?? Infinity);
    const exp = Math.floor(until / 1000);
    if (exp <= iat) throw new GatehouseError('invalid_grant', 'the credential expires too soon to issue a token');
    const token = await new SignJWT({ ...claimsFor(p) })
      .setProtectedHeader({ alg: ALG, kid: active.kid, typ: TYP })
      .setIssuer(this.issuer).setAudience(this.audience).setSubject(p.id)
      .setIssuedAt(iat).setNotBefore(iat).setExpirationTime(exp).setJti(randomUUID())
      .sign(active.privateKey);
    return { access_token: token, expires_in: exp - iat };
  }

  /** Verifies a built-in token (alg ES256 only, known kid, iss, aud, exp, nbf). Throws `invalid_token`. */
  async verify(token: string): Promise<Principal> {
    const invalid = (cause?: unknown): GatehouseError =>
      new GatehouseError('invalid_token', 'token is invalid or expired', {}, cause === undefined ? undefined : { cause });
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) throw invalid();
    let kid: unknown;
    let alg: unknown;
    try {
      ({ kid, alg } = decodeProtectedHeader(token));
    } catch (err) {
      throw invalid(err);
    }
    if (alg !== ALG || typeof kid !== 'string') throw invalid();
    const key = await this.#key(kid);
    if (!key) throw invalid();
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [ALG], issuer: this.issuer, audience: this.audience, typ: TYP,
        currentDate: new Date(this.#clock.now()), clockTolerance: CLOCK_SKEW_S,
        requiredClaims: ['iat', 'nbf', 'exp', 'jti', 'sub'],
      });
      return principalFromClaims(payload, this.issuer);
    } catch (err) {
      throw isGatehouseError(err) ? err : invalid(err);
    }
  }

  /** Retires the active key and creates a new one; drops keys retired long enough ago. */
  async rotate(): Promise<void> {
    const now = this.#clock.now();
    await this.#db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
      await tx.query('UPDATE signing_keys SET status = $1, retired_at = $2 WHERE status = $3', ['retired', new Date(now), 'active']);
      await tx.query('DELETE FROM signing_keys WHERE status = $1 AND retired_at < $2', ['retired', new Date(now - this.#retention())]);
      await this.#insertKey(tx);
    });
    await this.#load();
  }

  /** Re-reads the keys from the store (another replica may have rotated). */
  async refresh(): Promise<void> {
    await this.#load();
  }

  /** Retired keys stay valid for one token lifetime, plus the reload lag of other replicas, plus skew. */
  #retention(): number {
    return this.#ttlMs + RELOAD_MS + CLOCK_SKEW_S * 1000;
  }

  #usable(k: LoadedKey, now: number): boolean {
    return k.retiredAt === undefined || now - k.retiredAt <= this.#retention();
  }

  /** A known, usable key by kid; one store lookup for a kid this replica has not seen yet. */
  async #key(kid: string): Promise<LoadedKey | undefined> {
    const now = this.#clock.now();
    let key = this.#keys.get(kid);
    if (!key && kid.length <= 128) {
      const rows = await this.#db.query<KeyRow>('SELECT kid, private_jwk, public_jwk, status, retired_at FROM signing_keys WHERE kid = $1', [kid])
        .catch((err: unknown) => { throw new GatehouseError('store_unavailable', 'cannot read signing keys', {}, { cause: err }); });
      const row = rows[0];
      if (row) {
        key = await toLoaded(row);
        this.#keys.set(kid, key);
      }
    }
    return key && this.#usable(key, now) ? key : undefined;
  }

  async #insertKey(tx: SqlExecutor): Promise<void> {
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const { d: _d, ...pub } = privateJwk;
    const kid = await calculateJwkThumbprint(pub);
    const publicJwk: JWK = { ...pub, kid, alg: ALG, use: 'sig' };
    const stored = this.#masterKey ? { sealed: seal(this.#masterKey, JSON.stringify(privateJwk), `signing_key:${kid}`) } : privateJwk;
    await tx.query(
      `INSERT INTO signing_keys (kid, private_jwk, public_jwk, status, created_at) VALUES ($1, $2::jsonb, $3::jsonb, 'active', $4)
       ON CONFLICT DO NOTHING`,
      [kid, JSON.stringify(stored), JSON.stringify(publicJwk), new Date(this.#clock.now())],
    );
  }

  async #load(): Promise<void> {
    const now = this.#clock.now();
    let rows: KeyRow[];
    try {
      rows = await this.#db.query<KeyRow>(
        'SELECT kid, private_jwk, public_jwk, status, retired_at FROM signing_keys WHERE status = $1 OR retired_at >= $2',
        ['active', new Date(now - this.#retention())],
      );
    } catch (err) {
      throw new GatehouseError('store_unavailable', 'cannot read signing keys', {}, { cause: err });
    }
    const keys = new Map<string, LoadedKey>();
    let active: ActiveKey | undefined;
    for (const row of rows) {
      keys.set(row.kid, await toLoaded(row));
      if (row.status === 'active') active = { kid: row.kid, privateKey: await this.#privateKey(row) };
    }
    this.#keys = keys;
    this.#active = active;
    this.#loadedAt = now;
  }

  async #privateKey(row: KeyRow): Promise<CryptoKey> {
    let jwk = row.private_jwk as JWK & { sealed?: unknown };
    if (typeof jwk.sealed === 'string') {
      if (!this.#masterKey) throw new GatehouseError('config_invalid', 'signing keys are sealed but no master key was given');
      jwk = JSON.parse(openSealed(this.#masterKey, jwk.sealed, `signing_key:${row.kid}`)) as JWK;
    }
    return (await importJWK({ ...jwk, alg: ALG }, ALG)) as CryptoKey;
  }
}

async function toLoaded(row: KeyRow): Promise<LoadedKey> {
  const publicKey = (await importJWK({ ...row.public_jwk, alg: ALG }, ALG)) as CryptoKey;
  return { kid: row.kid, publicJwk: row.public_jwk, publicKey, retiredAt: row.retired_at?.getTime() };
}
