import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PreparedEvent } from './session-writer.ts';
import { Utf8Writer } from './utf8-writer.ts';

/** One journaled event: the recorder's ticket and the event as it will be written to the store. */
export interface JournalEntry {
  readonly ticket: number;
  readonly event: PreparedEvent;
}

/** A journal left by an earlier process, read back for recovery. */
export interface OrphanJournal {
  readonly id: string;
  /** Complete entries in ticket order (a torn last line, never acknowledged, is dropped). */
  readonly entries: readonly JournalEntry[];
  /** Deletes its files (after the store has everything they hold). */
  remove(): void;
}

const SEGMENT_BYTES = 8 * 1024 * 1024;
/** Ids of the journals this process has open (several gateways may run in one process, as in tests). */
const OPEN = new Set<string>();
const FILE = /^journal-((\d+)p[0-9a-f]+)-(\d{6})\.jsonl$/;

/**
 * The recorder's write-ahead journal: an append-only local file per gateway process. `flush()`
 * makes events durable by appending them here (one `write(2)` for everything pending: a few
 * microseconds), so a response need not wait for a store transaction; the store catches up in
 * large batches and each batch commits the journal ticket it covers. Data written to the file
 * survives the process being killed (SIGKILL): it is in the kernel. After a crash,
 * {@link RecordingJournal.orphans} reads the journals of dead processes and the recorder replays
 * what the store lacks.
 *
 * Segments of 8 MiB; a segment is deleted once the store has committed every ticket in it.
 *
 * @example
 *   const j = RecordingJournal.create(join(stateDir, 'journal'));
 *   j.append([{ ticket: 1, event }]);  // durable against a process crash when this returns
 *   j.committed(1);                    // the store has it: the segment may go
 */
export class RecordingJournal {
  readonly id: string;
  readonly #dir: string;
  #fd: number | undefined;
  #segment = 0;
  #bytes = 0;
  /** Sealed segments and the last ticket each holds. */
  readonly #sealed: { file: string; last: number }[] = [];
  #last = 0;
  /** The last append threw before writing all of its bytes: the file may end mid-line. */
  #torn = false;
  /** Scratch for the bytes of one append. */
  readonly #out = new Utf8Writer(16 * 1024);

  private constructor(dir: string, id: string) {
    this.#dir = dir;
    this.id = id;
  }

  /**
   * A fresh journal in `dir` (created with mode 0700). Its id starts with this process's pid, so
   * a process starting beside a live one (replicas sharing a directory) never takes its journal.
   */
  static create(dir: string): RecordingJournal {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const journal = new RecordingJournal(dir, `${process.pid}p${randomBytes(9).toString('hex')}`);
    OPEN.add(journal.id);
    return journal;
  }

  /**
   * Appends entries (in ticket order) with one synchronous write. Throws when the file cannot be
   * written (the caller fails closed).
   */
  append(entries: readonly JournalEntry[]): void {
    if (entries.length === 0) return;
    if (this.#fd === undefined || this.#bytes >= SEGMENT_BYTES) this.#rotate();
    // Written as UTF-8 straight into a scratch buffer (no joined string; see Utf8Writer).
    const out = this.#out;
    out.reset();
    // After a write that failed part-way (ENOSPC after some bytes), the file may end in a torn
    // line: this append starts on a line of its own, so its first entry is not glued to the torn
    // one (and lost with it on recovery, after its flush was acknowledged).
    if (this.#torn) out.byte(0x0a);
    for (const { ticket, event: e } of entries) {
      // The data is canonical JSON (no raw tab or newline): it follows the header verbatim, so
      // it is not escaped a second time (see readEntries for both line formats).
      out.put(JSON.stringify([ticket, e.session, e.protocol, e.type, e.at, e.user, e.agent, e.connection, e.effect ?? null]));
      out.byte(0x09);
      out.put(e.text);
      out.byte(0x0a);
    }
    const buf = out.bytes();
    this.#torn = true;
    let off = 0;
    while (off < buf.length) off += writeSync(this.#fd!, buf, off, buf.length - off);
    this.#torn = false;
    this.#bytes += buf.length;
    this.#last = entries[entries.length - 1]!.ticket;
  }

  /** The store has committed every ticket up to `through`: deletes the segments it covers. */
  committed(through: number): void {
    while (this.#sealed.length > 0 && this.#sealed[0]!.last <= through) {
      rmSync(this.#sealed.shift()!.file, { force: true });
    }
  }

  /** Closes the file; with `remove`, deletes every segment (everything is in the store). */
  close(remove: boolean): void {
    OPEN.delete(this.id);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    if (remove) {
      for (const s of this.#sealed.splice(0)) rmSync(s.file, { force: true });
      rmSync(this.#path(this.#segment), { force: true });
    }
  }

  #path(segment: number): string {
    return join(this.#dir, `journal-${this.id}-${String(segment).padStart(6, '0')}.jsonl`);
  }

  #rotate(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#sealed.push({ file: this.#path(this.#segment), last: this.#last });
      this.#segment++;
    }
    this.#fd = openSync(this.#path(this.#segment), 'a', 0o600);
    this.#bytes = 0;
  }

  /**
   * Journals in `dir` left by processes that are gone: not `exceptId`, not one this process has
   * open, not one whose pid is another running process (a pid reused by another program only
   * delays the recovery to a later start). A journal with this process's own pid that this process
   * did not open is an earlier process's: in a container the gateway is PID 1 at every start, so
   * a restarted container must recover the journal its previous run (also PID 1) left. Pids say
   * nothing across PID namespaces: a state directory belongs to one running gateway (container).
   */
  static orphans(dir: string, exceptId?: string): OrphanJournal[] {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    const byId = new Map<string, string[]>();
    for (const name of names.sort()) {
      const m = FILE.exec(name);
      if (!m || m[1] === exceptId || OPEN.has(m[1]!)) continue;
      const pid = Number(m[2]);
      if (pid !== process.pid && alive(pid)) continue;
      const list = byId.get(m[1]!) ?? [];
      list.push(join(dir, name));
      byId.set(m[1]!, list);
    }
    return [...byId].map(([id, files]) => ({
      id,
      entries: files.flatMap(readEntries),
      remove: () => { for (const f of files) rmSync(f, { force: true }); },
    }));
  }
}

/**
 * The complete entries of a journal file. Two line formats: `[ticket, session, protocol, type,
 * at, user, agent, connection, effect]` TAB canonical-JSON-data (since session 11), and the
 * earlier `{"n": ticket, "e": PreparedEvent}` (journals left by an older version are still
 * recovered). A line is complete only when its newline was written: what follows the last
 * newline is a torn write whose flush never returned, so nobody was told it was recorded.
 */
function readEntries(file: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop(); // after the last newline: empty, or a torn write
  for (const line of lines) {
    const entry = line.startsWith('[') ? tabEntry(line) : objectEntry(line);
    if (entry !== undefined) out.push(entry);
  }
  return out;
}

function tabEntry(line: string): JournalEntry | undefined {
  const tab = line.indexOf('\t');
  if (tab < 0) return undefined;
  let h: unknown;
  const text = line.slice(tab + 1);
  try {
    h = JSON.parse(line.slice(0, tab));
    JSON.parse(text); // the data must be whole JSON
  } catch {
    return undefined;
  }
  if (!Array.isArray(h) || h.length !== 9) return undefined;
  const [n, session, protocol, type, at, user, agent, connection, effect] = h as unknown[];
  const e = { session, protocol, type, at, user, agent, connection, text, bytes: Buffer.byteLength(text, 'utf8'), effect: effect ?? undefined };
  return typeof n === 'number' && isEvent(e) ? { ticket: n, event: e } : undefined;
}

function objectEntry(line: string): JournalEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { n, e } = v as { n?: unknown; e?: Partial<Record<keyof PreparedEvent, unknown>> };
  return typeof n === 'number' && isEvent(e) ? { ticket: n, event: e } : undefined;
}

function isEvent(e: Partial<Record<keyof PreparedEvent, unknown>> | undefined): e is PreparedEvent {
  if (typeof e !== 'object' || e === null) return false;
  const optional = (x: unknown): boolean => x === null || typeof x === 'string';
  return typeof e.session === 'string' && typeof e.protocol === 'string' && typeof e.type === 'string' && typeof e.at === 'string'
    && typeof e.text === 'string' && typeof e.bytes === 'number' && optional(e.user) && optional(e.agent) && optional(e.connection)
    && (e.effect === undefined || e.effect === 'allow' || e.effect === 'deny' || e.effect === 'review');
}

/** Whether a process with this pid exists (EPERM: it exists, but is not ours). */
function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
