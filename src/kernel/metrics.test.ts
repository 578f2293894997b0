import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metrics } from './metrics.ts';

/** The value of `gatehouse_policy_decisions_total{action, effect}` in the exposition text. */
async function decisions(m: Metrics, action: string, effect: string): Promise<number | undefined> {
  const text = await m.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`gatehouse_policy_decisions_total{action="${action}",effect="${effect}"}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('Metrics', () => {
  test('decisions counted on the hot path appear at each scrape, cumulatively, by action and effect', async () => {
    const m = new Metrics({ defaultMetrics: false });
    assert.equal(await decisions(m, 'sql.read', 'allow'), undefined);
    for (let i = 0; i < 3; i++) m.decided('sql.read', 'allow');
    m.decided('sql.write', 'deny');
    assert.equal(await decisions(m, 'sql.read', 'allow'), 3);
    assert.equal(await decisions(m, 'sql.write', 'deny'), 1);
    // A second scrape without new decisions reports the same totals (nothing counted twice).
    assert.equal(await decisions(m, 'sql.read', 'allow'), 3);
    m.decided('sql.read', 'allow');
    assert.equal(await decisions(m, 'sql.read', 'allow'), 4);
    assert.equal(await decisions(m, 'sql.write', 'deny'), 1);
  });
});
