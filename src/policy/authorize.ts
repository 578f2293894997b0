import { cedar, ensureSchemaPreparsed, SCHEMA_NAME } from './cedar.ts';
import type { CedarRequest } from './cedar-request.ts';

/** Cedar's answer for one request against one preparsed policy set. */
export type CedarOutcome =
  | {
    readonly ok: true;
    readonly allow: boolean;
    /** The satisfied policies that determined the decision (permits for allow, forbids for deny), sorted. */
    readonly reasons: readonly string[];
    /** `<policy id>: <message>` for every policy whose evaluation failed (Cedar skipped it), by policy id. */
    readonly errors: readonly string[];
    /** The ids of the policies that failed. */
    readonly errored: readonly string[];
  }
  | { readonly ok: false; readonly errors: readonly string[] };

/**
 * Evaluates `req` against the policy set preparsed under `policySetId`. With `validateRequest`
 * the request (types, context, entity attributes) is first checked against the schema.
 * Never throws: a wasm failure comes back as `{ ok: false }` for the caller to deny.
 *
 * @example const o = authorizePreparsed('gatehouse-1', toCedarRequest(req), true);
 */
export function authorizePreparsed(policySetId: string, req: CedarRequest, validateRequest: boolean): CedarOutcome {
  try {
    if (validateRequest) ensureSchemaPreparsed();
    const answer = cedar.statefulIsAuthorized({
      principal: req.principal,
      action: req.action,
      resource: req.resource,
      context: req.context,
      entities: req.entities,
      preparsedPolicySetId: policySetId,
      ...(validateRequest ? { preparsedSchemaName: SCHEMA_NAME, validateRequest: true } : {}),
    });
    if (answer.type === 'failure') return { ok: false, errors: answer.errors.map((e) => e.message) };
    const { decision, diagnostics } = answer.response;
    // Cedar returns sets in no fixed order: sort, so equal requests give equal decisions.
    const errors = [...diagnostics.errors].sort((x, y) => (x.policyId < y.policyId ? -1 : x.policyId > y.policyId ? 1 : 0));
    return {
      ok: true,
      allow: decision === 'allow',
      reasons: [...diagnostics.reason].sort(),
      errors: errors.map((e) => `${e.policyId}: ${e.error.message}`),
      errored: errors.map((e) => e.policyId),
    };
  } catch (err) {
    return { ok: false, errors: [`cedar: ${err instanceof Error ? err.message : String(err)}`] };
  }
}

let nextSetId = 0;

/** A fresh id for a preparsed policy set in the wasm module's cache. */
export function newPolicySetId(prefix: string): string {
  nextSetId += 1;
  return `${prefix}-${nextSetId}`;
}

/** Preparses `policies` under `id` (replacing what was there). Throws on failure. */
export function preparse(id: string, policies: Readonly<Record<string, string>>): void {
  const res = cedar.preparsePolicySet(id, { staticPolicies: { ...policies } });
  if (res.type === 'failure') throw new Error(`cannot preparse policy set: ${res.errors.map((e) => e.message).join('; ')}`);
}
