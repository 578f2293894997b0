import { randomBytes } from 'node:crypto';
import type { MaskingRuleConfig } from '../config/types.ts';
import type { Detector, EntityType } from './detectors/types.ts';
import { detectorsFor, expandEntities } from './detectors/index.ts';
import { customDetector } from './detectors/custom.ts';
import { TextMasker } from './text-masker.ts';
import type { Strategy } from './strategies.ts';

/** Longest match of a user pattern (config `masking.rules[].patterns`). */
const CUSTOM_MAX_LENGTH = 256;

/** True when `name` matches a connection name or glob (`*` any run of characters). */
export function connectionMatches(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => {
    if (!p.includes('*')) return p === name;
    const parts = p.split('*');
    let pos = 0;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === 0) {
        if (!name.startsWith(part)) return false;
        pos = part.length;
      } else if (i === parts.length - 1) {
        return name.length - part.length >= pos && name.endsWith(part);
      } else {
        const at = name.indexOf(part, pos);
        if (at < 0) return false;
        pos = at + part.length;
      }
    }
    return pos === name.length;
  });
}

/**
 * The compiled `masking` section. For a connection and a direction it gives the text masker
 * (detectors of every matching rule, each entity with the strategy of the first rule naming it)
 * and, for PostgreSQL, the strategy of a column rule. Maskers are built once per
 * (connection, direction) and reused.
 *
 * @example
 *   const rules = new MaskingRules(config.masking.rules, hashKey);
 *   rules.textMasker('openai', 'response')?.mask(text)
 */
export class MaskingRules {
  readonly #rules: readonly MaskingRuleConfig[];
  readonly #hashKey: Buffer;
  readonly #cache = new Map<string, TextMasker | null>();

  /** `hashKey` is `masking.hash_key`; without one, a random key (the config requires one for `hash`). */
  constructor(rules: readonly MaskingRuleConfig[], hashKey: Buffer | undefined) {
    this.#rules = rules;
    this.#hashKey = hashKey ?? randomBytes(32);
  }

  /** The masker for `connection` in `direction`, or undefined when no rule masks content there. */
  textMasker(connection: string, direction: 'request' | 'response'): TextMasker | undefined {
    const key = `${direction}\0${connection}`;
    let m = this.#cache.get(key);
    if (m === undefined) {
      m = this.#build(connection, direction);
      this.#cache.set(key, m);
    }
    return m ?? undefined;
  }

  /**
   * The strategy for a result column, from the first rule (for this connection, response
   * direction) naming `table.column` or `schema.table.column`.
   */
  columnStrategy(connection: string, schema: string, table: string, column: string): Strategy | undefined {
    for (const r of this.#applicable(connection, 'response')) {
      const s = r.columns?.[`${table}.${column}`] ?? r.columns?.[`${schema}.${table}.${column}`];
      if (s !== undefined) return s;
    }
    return undefined;
  }

  /** True when any column rule applies to the connection (the row masker then resolves columns). */
  hasColumnRules(connection: string): boolean {
    return this.#applicable(connection, 'response').some((r) => r.columns !== undefined && Object.keys(r.columns).length > 0);
  }

  get hashKey(): Buffer {
    return this.#hashKey;
  }

  #applicable(connection: string, direction: 'request' | 'response'): MaskingRuleConfig[] {
    return this.#rules.filter((r) => (r.direction === 'both' || r.direction === direction) && connectionMatches(r.connections, connection));
  }

  #build(connection: string, direction: 'request' | 'response'): TextMasker | null {
    const strategies = new Map<EntityType, Strategy>();
    const detectors: Detector[] = [];
    for (const r of this.#applicable(connection, direction)) {
      // SECRET stands for JWT and PRIVATE_KEY too (a rule naming one of them first keeps its strategy).
      for (const e of expandEntities(r.entities ?? [])) if (!strategies.has(e)) strategies.set(e, r.strategy);
      for (const p of r.patterns ?? []) {
        detectors.push(customDetector({ pattern: p.regex, entity: 'SECRET', maxLength: CUSTOM_MAX_LENGTH }));
        if (!strategies.has('SECRET')) strategies.set('SECRET', r.strategy);
      }
    }
    if (strategies.size === 0 && detectors.length === 0) return null;
    const builtins = detectorsFor([...strategies.keys()]);
    return new TextMasker({
      detectors: [...builtins, ...detectors],
      strategy: 'redact',
      strategyFor: (e) => strategies.get(e),
      hashKey: this.#hashKey,
    });
  }
}
