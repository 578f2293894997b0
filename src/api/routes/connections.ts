import type { Router } from '../../http/router.ts';
import { sendJson } from '../../http/problem.ts';
import { GatehouseError } from '../../kernel/errors.ts';
import { validateAgainstSchema } from '../../config/validate.ts';
import { publicConnection } from '../../connections/registry.ts';
import { Secret } from '../../kernel/secret.ts';
import type { StoredConnectionInput } from '../../store/connections-repo.ts';
import { PATH_FORMAT, type JsonSchema } from '../../kernel/json-schema.ts';
import { connectionFieldsOf, REGISTRY, type ConnectionFields, type ConnectionType, type ProtocolSet } from '../../protocols/registry.ts';
import { auditMutation, jsonObject, requireAction, type AdminContext, type AdminState } from '../context.ts';

/** The connection input after schema validation (the same schema as gatehouse.yaml's), with its type's own fields. */
interface ConnectionInput extends ConnectionFields {
  name: string; type: ConnectionType; url: string;
  credentials: Record<string, string>; description?: string; tags: string[];
}

/** A declared file path (`format: 'path'`), or a list of them: what the config file's directory resolves. */
const isPath = (s: unknown): boolean => typeof s === 'object' && s !== null && (s as JsonSchema).format === PATH_FORMAT;
const holdsPath = (s: JsonSchema): boolean => isPath(s) || isPath(s.items);

/**
 * Validates a connection body with the config file's own connection schema. No `${…}`
 * interpolation happens here: API input must never read the gateway's environment or files.
 * For the same reason a field its type declares as a file path (`format: 'path'`, resolved and
 * trusted only in the config file) is refused: through the API it would name any file. `set`: the
 * protocols (the gateway's, or a test's).
 */
export function validateConnection(body: Record<string, unknown>, set: ProtocolSet = REGISTRY): ConnectionInput {
  const copy = structuredClone(body);
  const issues = validateAgainstSchema({ connections: [copy] }, () => undefined, set);
  const fields = issues.length === 0 ? set.connectionType(String(copy.type))?.fields ?? {} : {};
  for (const [key, schema] of Object.entries(fields)) {
    if (copy[key] !== undefined && holdsPath(schema)) issues.push({ path: `/connections/0/${key}`, message: `${key} is a file path: it must be set in the configuration file, not through the API` });
  }
  if (issues.length > 0) {
    const detail = issues.map((i) => `${i.path.replace(/^\/connections\/0/, '') || '/'}: ${i.message}`).join('; ');
    throw new GatehouseError('validation_failed', detail, { errors: issues.map((i) => ({ path: i.path.replace(/^\/connections\/0/, ''), message: i.message })) });
  }
  return copy as unknown as ConnectionInput;
}

/** The repository's input: credential values become `Secret`s the moment they are parsed. */
function toStored(input: ConnectionInput, withCredentials: boolean): StoredConnectionInput {
  return {
    name: input.name, type: input.type, url: input.url, tags: input.tags,
    ...connectionFieldsOf(input),
    ...(input.description === undefined ? {} : { description: input.description }),
    ...(withCredentials ? { credentials: Object.fromEntries(Object.entries(input.credentials).map(([k, v]) => [k, new Secret(v)])) } : {}),
  };
}

async function findOr404(ctx: AdminContext, name: string) {
  const c = await ctx.state.svc.connections.get(name);
  if (!c) throw new GatehouseError('not_found', `no connection named "${name}"`);
  return c;
}

function refuseConfigDefined(ctx: AdminContext, name: string): void {
  if (ctx.state.svc.connections.isConfigDefined(name)) {
    throw new GatehouseError('read_only', `connection "${name}" is defined in the configuration file; change it there`);
  }
}

/** `/api/v1/connections`: config-file connections are listed but read-only. */
export function registerConnectionRoutes(r: Router<AdminState>): void {
  r.add('GET', '/api/v1/connections', async (ctx) => {
    await requireAction(ctx);
    sendJson(ctx.res, 200, { items: (await ctx.state.svc.connections.list()).map(publicConnection) });
  });

  r.add('GET', '/api/v1/connections/:name', async (ctx) => {
    await requireAction(ctx);
    sendJson(ctx.res, 200, publicConnection(await findOr404(ctx, ctx.params.name!)));
  });

  r.add('POST', '/api/v1/connections', async (ctx) => {
    await requireAction(ctx);
    const input = validateConnection(await jsonObject(ctx));
    refuseConfigDefined(ctx, input.name);
    await ctx.state.svc.connectionsRepo.create({ ...toStored(input, true), createdBy: ctx.state.principal.id });
    await auditMutation(ctx, 'connection.create', `Connection::${input.name}`, { type: input.type });
    sendJson(ctx.res, 201, publicConnection(await findOr404(ctx, input.name)));
  });

  r.add('PATCH', '/api/v1/connections/:name', async (ctx) => {
    await requireAction(ctx);
    const name = ctx.params.name!;
    refuseConfigDefined(ctx, name);
    const current = await findOr404(ctx, name);
    const patch = await jsonObject(ctx);
    if (patch.name !== undefined && patch.name !== name) throw new GatehouseError('validation_failed', 'a connection cannot be renamed');
    // Credentials are write-only: a patch without them keeps the sealed ones.
    const merged = {
      type: current.type, url: current.url, tags: current.tags,
      ...connectionFieldsOf(current),
      ...(current.description === undefined ? {} : { description: current.description }),
      ...patch, name,
    };
    const keepCredentials = patch.credentials === undefined;
    const input = validateConnection(keepCredentials ? { ...merged, credentials: {} } : merged);
    await ctx.state.svc.connectionsRepo.update(name, toStored(input, !keepCredentials));
    await auditMutation(ctx, 'connection.update', `Connection::${name}`, { fields: Object.keys(patch).sort() });
    sendJson(ctx.res, 200, publicConnection(await findOr404(ctx, name)));
  });

  r.add('DELETE', '/api/v1/connections/:name', async (ctx) => {
    await requireAction(ctx);
    const name = ctx.params.name!;
    refuseConfigDefined(ctx, name);
    if (!(await ctx.state.svc.connectionsRepo.delete(name))) throw new GatehouseError('not_found', `no connection named "${name}"`);
    await auditMutation(ctx, 'connection.delete', `Connection::${name}`);
    sendJson(ctx.res, 200, { name, deleted: true });
  });
}
