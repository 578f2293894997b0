import type { ListenerStart } from '../protocols/contract.ts';
import { PROTOCOLS, type ListenerSections } from '../protocols/registry.ts';
import type { SqlQueryRunner } from '../sql/runner.ts';
import type { ShellCommandRunner } from '../shell/runner.ts';
import type { Services } from './services.ts';

type Registered = (typeof PROTOCOLS)[number];
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type RuntimeOf<P> = P extends { readonly runtime: () => Promise<infer R> } ? R : object;
type ListenerDepsOf<R> = R extends { readonly startListener: (deps: infer D, ...rest: never[]) => unknown } ? D : never;
type RunnerDepsOf<R> = R extends { readonly sqlRunner: (deps: infer D) => unknown } ? D : never;
type ShellDepsOf<R> = R extends { readonly shellRunner: (deps: infer D) => unknown } ? D : never;
type RunnerOf<R> = R extends { readonly sqlRunner: (deps: never) => infer X } ? X : SqlQueryRunner;
type ShellRunnerOf<R> = R extends { readonly shellRunner: (deps: never) => infer X } ? X : ShellCommandRunner;
/** What the registered runtimes need of the gateway's services, all together. */
type Needed = UnionToIntersection<ListenerDepsOf<RuntimeOf<Registered>> | RunnerDepsOf<RuntimeOf<Registered>> | ShellDepsOf<RuntimeOf<Registered>>>;
type SectionParamOf<R> = R extends { readonly startListener: (deps: never, at: never, config: infer C, ...rest: never[]) => unknown } ? C : unknown;
/** Each listener's `server.<name>` section after load, as its start function takes it (`unknown` when it has none). */
type SectionsTaken = { readonly [P in Registered as P['name']]: SectionParamOf<RuntimeOf<P>> };
type SectionsLoaded = { readonly [P in Registered as P['name']]: P['name'] extends keyof ListenerSections ? ListenerSections[P['name']] : undefined };

/**
 * A protocol's runtime as the composition root uses it. The casts below are sound because of the
 * compile-time checks in {@link runtimesAreServed}: the services satisfy every runtime's
 * dependencies, and every SQL (shell) runner is a `SqlQueryRunner` (`ShellCommandRunner`).
 */
export interface LoadedRuntime {
  readonly startListener?: ListenerStart<Services, { readonly listen: string }>;
  readonly sqlRunner?: (deps: Services) => SqlQueryRunner;
  readonly shellRunner?: (deps: Services) => ShellCommandRunner;
}

/**
 * Compile-time only: fails to type-check when a registered protocol's runtime needs something
 * the services do not provide, or its runners are not the ports' types (never called).
 */
export function runtimesAreServed(
  services: Services, runner: RunnerOf<RuntimeOf<Registered>>, shell: ShellRunnerOf<RuntimeOf<Registered>>, sections: SectionsLoaded,
): [Needed, SqlQueryRunner, ShellCommandRunner, SectionsTaken] {
  return [services, runner, shell, sections];
}

/**
 * Loads every registered protocol's runtime (its folder's `runtime.ts`), by protocol name. Throws
 * naming the protocol when a declared listener has no `startListener`.
 */
export async function loadRuntimes(): Promise<ReadonlyMap<string, LoadedRuntime>> {
  const out = new Map<string, LoadedRuntime>();
  for (const p of PROTOCOLS) {
    const rt = 'runtime' in p ? (await p.runtime()) as unknown as LoadedRuntime : {};
    if ('listener' in p && rt.startListener === undefined) throw new Error(`protocol "${p.name}" declares a listener but its runtime has no startListener`);
    out.set(p.name, rt);
  }
  return out;
}

/**
 * The runners of the registered protocols by connection type: SQL (MCP's query tools) and shell
 * commands (MCP's run_command).
 */
export function runners(runtimes: ReadonlyMap<string, LoadedRuntime>, services: Services): {
  sqlRunners: Readonly<Partial<Record<string, SqlQueryRunner>>>; shellRunners: Readonly<Partial<Record<string, ShellCommandRunner>>>;
} {
  const sqlRunners: Record<string, SqlQueryRunner> = {};
  const shellRunners: Record<string, ShellCommandRunner> = {};
  for (const p of PROTOCOLS) {
    const rt = runtimes.get(p.name);
    const sql = rt?.sqlRunner?.(services);
    const shell = rt?.shellRunner?.(services);
    for (const c of p.connectionTypes) {
      if (sql) sqlRunners[c.type] = sql;
      if (shell) shellRunners[c.type] = shell;
    }
  }
  return { sqlRunners, shellRunners };
}
