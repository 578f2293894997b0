import { BE } from './backend-messages.ts';
import { FE } from './frontend-messages.ts';
import type { SessionLink } from './session-link.ts';
import { MessageWriter } from './writer.ts';

/**
 * Settings kept by the session and never sent upstream: `SET gatehouse.justification` (sent with
 * every later review). An empty query takes the SET's place upstream, so its answer
 * (CommandComplete + ReadyForQuery with the true transaction status) lands in order behind
 * anything still in flight: the EmptyQueryResponse of that batch becomes `CommandComplete SET`.
 */
export class LocalSettings {
  readonly #link: SessionLink;
  readonly #sendQuery: (raw: Buffer) => void;
  /** Batches whose EmptyQueryResponse answers a local SET. */
  readonly #pending: { readonly batch: number; readonly tag: string }[] = [];
  #justification: string | undefined;

  /** @param sendQuery forwards a Query (counts a batch; the result path expects its answer) */
  constructor(link: SessionLink, sendQuery: (raw: Buffer) => void) {
    this.#link = link;
    this.#sendQuery = sendQuery;
  }

  /** From `SET gatehouse.justification`, if set. */
  get justification(): string | undefined {
    return this.#justification;
  }

  /** `SET`/`RESET gatehouse.justification`: kept here; an empty query goes upstream in its place. */
  setJustification(tag: 'SET' | 'RESET', value: string | undefined): void {
    this.#justification = value;
    this.#pending.push({ batch: this.#link.batches.sent, tag });
    this.#sendQuery(new MessageWriter().cstring('').frame(FE.query));
  }

  /** An EmptyQueryResponse from upstream: the client's answer when it stands for a local SET. */
  emptyQuery(): Buffer | undefined {
    const local = this.#pending[0];
    if (local?.batch !== this.#link.batches.done) return undefined;
    this.#pending.shift();
    return new MessageWriter().cstring(local.tag).frame(BE.commandComplete);
  }

  /** A batch was answered (ReadyForQuery). */
  ready(): void {
    const done = this.#link.batches.done;
    while (this.#pending.length > 0 && this.#pending[0]!.batch < done) this.#pending.shift();
  }
}
