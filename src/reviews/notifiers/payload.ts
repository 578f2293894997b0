import { describeActor } from '../actors.ts';
import type { Review, ReviewEvent } from '../types.ts';

/** The review as notifications show it: masked summary, names only, ISO times. */
export interface ReviewNotice {
  readonly id: string;
  readonly kind: Review['kind'];
  readonly status: Review['status'];
  readonly rule: string;
  readonly connection: string;
  readonly action: string;
  readonly requester: string;
  readonly summary: string;
  readonly justification?: string;
  readonly created_at: string;
  readonly expires_at: string;
}

/** The generic webhook body. */
export interface GenericPayload {
  readonly event: ReviewEvent['event'];
  readonly by?: string;
  readonly review: ReviewNotice;
  /** `api`: the JSON resource; `console`: the review's page in the web console (where a reviewer decides). */
  readonly links: { readonly api: string; readonly console: string };
}

/** `POST`ed to `format: generic` webhooks. */
export function genericPayload(e: ReviewEvent, publicUrl: string): GenericPayload {
  const r = e.review;
  return {
    event: e.event,
    ...(e.by ? { by: describeActor(e.by) } : {}),
    review: {
      id: r.id, kind: r.kind, status: r.status, rule: r.rule, connection: r.connection, action: r.action,
      requester: describeActor(r.requester), summary: r.summary, ...(r.justification === undefined ? {} : { justification: r.justification }),
      created_at: new Date(r.createdAt).toISOString(), expires_at: new Date(r.expiresAt).toISOString(),
    },
    links: { api: `${publicUrl}/api/v1/reviews/${encodeURIComponent(r.id)}`, console: `${publicUrl}/ui/reviews/${encodeURIComponent(r.id)}` },
  };
}

/** Slack mrkdwn needs `&`, `<`, `>` escaped so user text cannot forge links or mentions. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const VERB: Record<ReviewEvent['event'], string> = {
  'review.requested': 'needs approval', 'review.approval': 'got an approval', 'review.approved': 'was approved',
  'review.denied': 'was denied', 'review.expired': 'expired', 'review.cancelled': 'was cancelled',
  'review.executed': 'was executed', 'review.revoked': 'was revoked',
};

/** A Slack incoming-webhook message (`{ text, blocks }`) for `format: slack`. */
export function slackPayload(e: ReviewEvent, publicUrl: string): { text: string; blocks: unknown[] } {
  const g = genericPayload(e, publicUrl);
  const r = g.review;
  const text = esc(`Review ${r.id} ${VERB[e.event]}: ${r.action} on ${r.connection} by ${r.requester}`);
  const fields = [
    `*Requester*\n${esc(r.requester)}`, `*Connection*\n${esc(r.connection)}`, `*Action*\n${esc(r.action)}`,
    `*Kind*\n${r.kind} (rule ${esc(r.rule)})`, `*Status*\n${r.status}${g.by ? ` (${esc(g.by)})` : ''}`, `*Expires*\n${r.expires_at}`,
  ].map((t) => ({ type: 'mrkdwn', text: t }));
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text } },
    { type: 'section', fields },
    { type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${esc(r.summary.replace(/```/g, "'''"))}\`\`\`` } },
  ];
  if (r.justification !== undefined) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Justification: ${esc(r.justification)}` }] });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${g.links.console}|Open ${r.id} in the console> · \`gatehouse reviews approve ${r.id}\`` }] });
  return { text, blocks };
}
