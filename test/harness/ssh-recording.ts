/**
 * A real OpenSSH server and a gateway with one recorded SSH connection (`web01`) to it, and a
 * user's key: the set-up the SSH recording tests share.
 *
 * @example const rig = await startSshRecordingRig({ policies, user: 'alice', groups: ['developers'], yaml: ['recording: { max_session_bytes: 12kb }'] });
 */
import assert from 'node:assert/strict';
import type { Recorder } from '../../src/recording/recorder.ts';
import type { StoredEvent } from '../../src/recording/types.ts';
import { startTestGateway, type TestGateway } from './gateway.ts';
import { sshConnectionYaml, startSshd, type TestSshd } from './sshd.ts';

export interface SshRecordingRig {
  readonly sshd: TestSshd;
  readonly t: TestGateway;
  /** The user's API key (its SSH password). */
  readonly key: string;
  /** A session's stored events, once everything recorded so far is in the store. */
  events(id: string): Promise<StoredEvent[]>;
  close(): Promise<void>;
}

export async function startSshRecordingRig(opts: {
  readonly policies: string; readonly user: string; readonly groups: readonly string[]; readonly yaml?: readonly string[]; readonly recorder?: Recorder;
}): Promise<SshRecordingRig> {
  const sshd = await startSshd();
  const t = await startTestGateway({
    policies: opts.policies, ...(opts.recorder === undefined ? {} : { recorder: opts.recorder }),
    yaml: [...(opts.yaml ?? []), 'connections:', sshConnectionYaml(sshd)].join('\n'),
  });
  const created = await t.api('POST', '/api/v1/api-keys', { user: opts.user, groups: opts.groups });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  return {
    sshd, t, key: created.json.key as string,
    async events(id) {
      await t.gw.services.recorder.flush?.().catch(() => undefined);
      await t.gw.services.recorder.settled?.();
      const out: StoredEvent[] = [];
      for await (const e of t.gw.services.sessions.allEvents(id)) out.push(e);
      return out;
    },
    async close() {
      await t.close();
      await sshd.stop();
    },
  };
}
