import { randomBytes } from 'node:crypto';
import { parseErrorFields } from './backend-messages.ts';
import { errorResponse, type PgErrorCode } from './errors.ts';
import { FE } from './frontend-messages.ts';
import type { SessionLink } from './session-link.ts';
import { MessageWriter } from './writer.ts';

/** A denial forwarded upstream as a statement that fails at once, so its error lands in order. */
interface Marker { readonly token: string; readonly message: string; readonly error: PgErrorCode; readonly batch: number; readonly position: number | undefined }

/** A denial by policy (42501). */
const DENIED: PgErrorCode = { code: 'policy_denied' };

/** How a denied message is replaced upstream (the form the client's message had). */
export type DenialForm = 'query' | 'parse' | 'bind';

/**
 * Denials placed in order. A denied message is replaced upstream by one that fails at once (a
 * Query or Parse of the invalid statement `GATEHOUSE_DENIED_<random nonce>`, or a Bind of a
 * statement of that name, which does not exist); the server's ErrorResponse for it is rewritten
 * into `error` (`policy_denied`, 42501, by default) with the reason. Hence the error sits exactly where the
 * statement's own response would, the server discards the rest of an extended batch until Sync,
 * and ReadyForQuery carries the server's true transaction status.
 */
export class DenialMarkers {
  readonly #link: SessionLink;
  readonly #sendQuery: (raw: Buffer) => void;
  readonly #markers: Marker[] = [];

  /** @param sendQuery forwards a Query (counts a batch; the result path expects its answer) */
  constructor(link: SessionLink, sendQuery: (raw: Buffer) => void) {
    this.#link = link;
    this.#sendQuery = sendQuery;
  }

  /** Sends upstream a message that fails at once, in the form `as`; its error becomes `message`. */
  deny(message: string, as: DenialForm, error: PgErrorCode = DENIED, position?: number): void {
    const token = `GATEHOUSE_DENIED_${randomBytes(12).toString('hex')}`;
    this.#markers.push({ token, message, error, batch: this.#link.batches.sent, position });
    if (as === 'query') this.#sendQuery(new MessageWriter().cstring(token).frame(FE.query));
    else if (as === 'parse') this.#link.toUpstream(new MessageWriter().cstring('').cstring(token).int16(0).frame(FE.parse));
    else this.#link.toUpstream(new MessageWriter().cstring('').cstring(token).int16(0).int16(0).int16(0).frame(FE.bind));
  }

  /** An upstream ErrorResponse: the client's error if it answers the oldest marker, else undefined. */
  rewrite(body: Buffer): Buffer | undefined {
    const marker = this.#markers[0];
    if (!marker) return undefined;
    const m = parseErrorFields(body).get('M') ?? '';
    if (!m.includes(marker.token)) return undefined;
    this.#markers.shift();
    return errorResponse({ ...marker.error, message: marker.message, ...(marker.position === undefined ? {} : { position: marker.position }) });
  }

  /** A batch was answered (ReadyForQuery): markers of answered batches are dropped. */
  ready(): void {
    const done = this.#link.batches.done;
    while (this.#markers.length > 0 && this.#markers[0]!.batch < done) this.#markers.shift();
  }
}
