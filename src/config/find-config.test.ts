import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_CONFIG_PATH, findConfigPath } from './find-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-find-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('findConfigPath', () => {
  test('GATEHOUSE_CONFIG wins, relative to cwd', () => {
    assert.equal(findConfigPath({ GATEHOUSE_CONFIG: 'conf/g.yaml' }, dir), join(dir, 'conf/g.yaml'));
    assert.equal(findConfigPath({ GATEHOUSE_CONFIG: '/etc/g.yaml' }, dir), '/etc/g.yaml');
  });

  test('falls back to the shipped example, then prefers ./gatehouse.yaml once it exists', () => {
    assert.equal(findConfigPath({}, dir), EXAMPLE_CONFIG_PATH);
    assert.ok(existsSync(EXAMPLE_CONFIG_PATH), 'the example config ships at the package root');
    writeFileSync(join(dir, 'gatehouse.yaml'), '');
    assert.equal(findConfigPath({ GATEHOUSE_CONFIG: '' }, dir), join(dir, 'gatehouse.yaml'));
  });
});
