import type { ListenerStart } from '../protocols/contract.ts';
import type { ListenerSections } from '../protocols/registry.ts';
import { startPostgresListener } from '../protocols/postgres/serve.ts';
import type { Services } from './services.ts';

/**
 * The start function of every listener a registered protocol declares (`server.<name>`), by
 * protocol name. The declarations live below configuration and policy, the code that serves
 * above them: this map joins the two, and its type makes a declared listener without a starter
 * (or a starter without a declaration) a compile error.
 */
export const LISTENER_STARTERS: { readonly [K in keyof ListenerSections]: ListenerStart<Services, ListenerSections[K]> } = {
  postgres: startPostgresListener,
};
