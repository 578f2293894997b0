import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isGatehouseError } from '../kernel/errors.ts';
import type { ApiKeys } from './api-keys.ts';

/** Where the bootstrap admin key lives inside the state directory. */
export const ADMIN_KEY_FILE = 'admin.key';
const MAX_KEY_FILE = 4096;

/**
 * Makes sure an admin can log in on first start: when `<dir>/admin.key` is missing, or holds a key
 * that no longer verifies (revoked, expired, store reset), creates an API key for `opts.user` in
 * group `opts.group` and writes it to that file (created exclusively, mode 0600). The key is never
 * logged or returned; only the path is.
 *
 * @example
 *   const { created, path } = await bootstrapAdmin(apiKeys, './.gatehouse', { user: 'admin', group: 'admins' });
 *   if (created) log.info({ path }, 'bootstrap admin key written');
 */
export async function bootstrapAdmin(
  apiKeys: ApiKeys,
  dir: string,
  opts: { user: string; group: string },
): Promise<{ created: boolean; path: string }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, ADMIN_KEY_FILE);
  const existing = readExisting(path);
  if (existing !== undefined) {
    try {
      const p = await apiKeys.verify(existing);
      if (p.kind === 'user' && p.id === opts.user && p.agent === undefined && p.groups.includes(opts.group)) return { created: false, path };
      // The configured admin changed: the old bootstrap key must not stay valid behind our back.
      if (p.credentialId !== undefined) await apiKeys.revoke(p.credentialId, 'bootstrap');
    } catch (err) {
      // Only a key the store rejects is replaced; a store outage must not mint a second admin key.
      if (!isGatehouseError(err, 'invalid_credential')) throw err;
    }
    rmSync(path, { force: true });
  }
  // Claim the file first (O_EXCL): of two processes racing here, only one mints a key.
  const fd = openSync(path, 'wx', 0o600);
  try {
    const { key } = await apiKeys.create({
      user: opts.user, groups: [opts.group], description: 'bootstrap admin key', createdBy: 'bootstrap',
    });
    writeSync(fd, `${key}\n`);
  } catch (err) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw err;
  }
  closeSync(fd);
  return { created: true, path };
}

/** The key in the file, or undefined when there is no file. */
function readExisting(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return text.length > MAX_KEY_FILE ? '' : text.trim();
}
