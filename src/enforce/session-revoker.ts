import type { ApiKeys } from '../identity/api-keys.ts';
import { keyBinding, type Principal } from '../identity/principal.ts';
import { every, systemClock, type Clock } from '../kernel/clock.ts';
import { isGatehouseError } from '../kernel/errors.ts';

/** What the revoker needs of a live session (a PostgreSQL session, an SSH client connection). */
export interface RevocableSession {
  readonly principal: Principal;
  /**
   * Ends the session, telling its client why (audited by the session). `keyId`: the dead API key,
   * or for `expired` the expired credential's id (`credentialId`, else its kind); never a secret.
   */
  endRevoked(keyId: string, why: RevokeReason): void;
}

/** Why a live session is ended: its key was revoked, a key failed the re-check, or the credential itself expired. */
export type RevokeReason = 'revoked' | 'revoked or expired' | 'expired';

/** What the revoker needs of the services. */
export interface RevokerDeps {
  readonly apiKeys: Pick<ApiKeys, 'onRevoked' | 'assertLive'>;
  /** For credential expiry (`principal.expiresAt`) and the periodic sweep's timer; the system clock when absent. */
  readonly clock?: Pick<Clock, 'now' | 'timer'>;
  readonly log: { warn(obj: object, msg: string): void };
}

/** How often every live session's keys are checked again (bounds a lost revocation feed, and expiry). */
export const SESSION_RECHECK_MS = 30_000;

/**
 * Ends live sessions (PostgreSQL sessions, SSH client connections) whose credential dies:
 * revocation means revocation, also for a session authenticated before it (issue 17 item 2).
 *
 * - A revoked API key (`ApiKeys.onRevoked`: revoked on this replica, at once; on another replica,
 *   through the same LISTEN/NOTIFY feed as the API-key cache) ends every session whose credential
 *   is that key or a token bound to it (`keyBinding`: `credentialId` of an API key, `boundKeys` of
 *   a Gatehouse JWT).
 * - A revocation of an unknown key (malformed notification) and, every {@link SESSION_RECHECK_MS},
 *   a sweep re-check every session's keys with `ApiKeys.assertLive` (so a lost notification or an
 *   expired key ends the session within that bound). A store that cannot answer ends nothing (logged):
 *   new authentications fail closed meanwhile, and the next sweep tries again.
 *
 * - The sweep also ends every session whose credential itself has expired (`principal.expiresAt`
 *   <= now), key-bound or not: a Gatehouse token minted through OIDC or SAML has no key to re-check,
 *   and its session must not outlive it. Audited like a revocation (`why` = `expired`).
 *
 * Revoking a key does not affect sessions authenticated by an external OIDC token (no key binding).
 *
 * @example
 *   const revoker = new SessionRevoker(svc, () => sessions);
 *   revoker.start(); … revoker.stop();
 */
export class SessionRevoker {
  readonly #svc: RevokerDeps;
  readonly #sessions: () => Iterable<RevocableSession>;
  readonly #recheckMs: number;
  #off: (() => void) | undefined;
  /** Stops the periodic sweep (on the clock's timers). */
  #stopSweep: (() => void) | undefined;
  #sweeping = false;

  readonly #surface: string;

  /** `surface` names the sessions in log lines (`postgres`, `ssh`). */
  constructor(svc: RevokerDeps, sessions: () => Iterable<RevocableSession>, recheckMs = SESSION_RECHECK_MS, surface = 'postgres') {
    this.#svc = svc;
    this.#surface = surface;
    this.#sessions = sessions;
    this.#recheckMs = recheckMs;
  }

  /** Subscribes to revocations and starts the periodic sweep. Idempotent. */
  start(): void {
    this.#off ??= this.#svc.apiKeys.onRevoked((id) => {
      if (id === undefined) { void this.sweep(); return; }
      for (const s of [...this.#sessions()]) {
        if (keyBinding(s.principal).includes(id)) s.endRevoked(id, 'revoked');
      }
    });
    if (this.#stopSweep === undefined && this.#recheckMs > 0) {
      this.#stopSweep = every(this.#svc.clock ?? systemClock, this.#recheckMs, () => { void this.sweep(); });
    }
  }

  /** Unsubscribes and stops the sweep. */
  stop(): void {
    this.#off?.();
    this.#off = undefined;
    this.#stopSweep?.();
    this.#stopSweep = undefined;
  }

  /**
   * Ends every open session whose credential has expired, and checks the others' keys against the
   * store (through the API-key cache), ending the sessions with a dead one. One sweep at a time; each distinct key is checked once per sweep.
   */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const verdicts = new Map<string, Promise<boolean>>();
      const live = (id: string): Promise<boolean> => {
        let v = verdicts.get(id);
        if (v === undefined) {
          v = this.#svc.apiKeys.assertLive(id).then(() => true, (err: unknown) => {
            if (isGatehouseError(err, 'invalid_credential')) return false;
            this.#svc.log.warn({ key_id: id, err: String(err) }, `could not re-check the API key of live ${this.#surface} sessions`);
            return true;
          });
          verdicts.set(id, v);
        }
        return v;
      };
      const now = (this.#svc.clock ?? systemClock).now();
      for (const s of [...this.#sessions()]) {
        const exp = s.principal.expiresAt;
        if (exp !== undefined && exp <= now) { s.endRevoked(s.principal.credentialId ?? s.principal.via, 'expired'); continue; }
        for (const id of keyBinding(s.principal)) {
          if (!(await live(id))) { s.endRevoked(id, 'revoked or expired'); break; }
        }
      }
    } finally {
      this.#sweeping = false;
    }
  }
}
