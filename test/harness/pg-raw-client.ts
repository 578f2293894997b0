import { connect, type Socket } from 'node:net';
import { FrameReader, type Frame } from '../../src/protocols/postgres/frame-reader.ts';
import { parseErrorFields } from '../../src/protocols/postgres/backend-messages.ts';
import { MessageWriter, emptyMessage } from '../../src/protocols/postgres/writer.ts';

/**
 * A hand-driven PostgreSQL wire client for tests: send exact frames (pipelined batches,
 * malformed messages) and read back typed frames.
 */
export class RawPgClient {
  readonly socket: Socket;
  readonly #reader = new FrameReader();
  readonly #frames: Frame[] = [];
  #waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.#frames.push(...this.#reader.push(c).map((f) => ({ type: f.type, body: Buffer.from(f.body), raw: Buffer.from(f.raw) })));
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('close', () => { this.closed = true; for (const w of this.#waiters.splice(0)) w(); });
    socket.on('error', () => undefined);
  }

  /** Connects and authenticates with a cleartext password; resolves after ReadyForQuery. */
  static async connect(host: string, port: number, user: string, database: string, password: string, extra: Record<string, string> = {}): Promise<RawPgClient> {
    const socket = connect({ host, port });
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const c = new RawPgClient(socket);
    const w = new MessageWriter().int32(196608).cstring('user').cstring(user).cstring('database').cstring(database);
    for (const [k, v] of Object.entries(extra)) w.cstring(k).cstring(v);
    socket.write(w.byte(0).untyped());
    const auth = await c.next();
    if (auth.type !== 0x52) throw new Error(`expected an authentication request, got ${c.describe(auth)}`);
    socket.write(new MessageWriter().cstring(password).frame(0x70));
    await c.until(0x5a);
    return c;
  }

  send(...msgs: Buffer[]): void {
    this.socket.write(Buffer.concat(msgs));
  }

  async next(timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.#frames.shift();
      if (f) return f;
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise<void>((r) => { this.#waiters.push(r); setTimeout(r, 200); });
    }
  }

  /** Reads frames up to and including one of `type`; returns them all. */
  async until(type: number): Promise<Frame[]> {
    const out: Frame[] = [];
    for (;;) {
      const f = await this.next();
      out.push(f);
      if (f.type === type) return out;
    }
  }

  describe(f: Frame): string {
    if (f.type === 0x45) return `E(${parseErrorFields(f.body).get('C') ?? ''}: ${parseErrorFields(f.body).get('M') ?? ''})`;
    return String.fromCharCode(f.type);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Frame builders for tests. */
export const fe = {
  query: (sql: string) => new MessageWriter().cstring(sql).frame(0x51),
  parse: (name: string, sql: string) => new MessageWriter().cstring(name).cstring(sql).int16(0).frame(0x50),
  bind: (portal: string, stmt: string, params: string[] = []) => {
    const w = new MessageWriter().cstring(portal).cstring(stmt).int16(0).int16(params.length);
    for (const p of params) { const b = Buffer.from(p); w.int32(b.length).bytes(b); }
    return w.int16(0).frame(0x42);
  },
  describe: (t: 'S' | 'P', name: string) => new MessageWriter().byte(t.charCodeAt(0)).cstring(name).frame(0x44),
  execute: (portal: string, rows = 0) => new MessageWriter().cstring(portal).int32(rows).frame(0x45),
  sync: () => emptyMessage(0x53),
  flush: () => emptyMessage(0x48),
};
