-- Reviews (just-in-time approval). Runs unchanged on PGlite and PostgreSQL 15+.
-- See docs/design/reviews.md. No secrets here: `summary` is masked by the protocol before it is
-- stored, `facts` holds kinds and names only, actors are names only.

CREATE TABLE reviews (
  id             text PRIMARY KEY,
  kind           text NOT NULL CHECK (kind IN ('command', 'jit')),
  status         text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled', 'executed', 'revoked')),
  rule           text NOT NULL,
  -- snapshot of the rule at request time: a config reload does not change a review in flight
  approvers      jsonb NOT NULL,
  min_approvals  integer NOT NULL CHECK (min_approvals >= 1),
  grant_ms       bigint,
  connection     text NOT NULL,
  action         text NOT NULL,
  actions        jsonb NOT NULL,
  requester_key  text NOT NULL,
  requester      jsonb NOT NULL,
  fingerprint    text NOT NULL,
  summary        text NOT NULL,
  justification  text,
  facts          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at     timestamptz NOT NULL,
  -- pending: when it expires unanswered; approved: when the approval (jit: the grant) ends
  expires_at     timestamptz NOT NULL,
  decided_at     timestamptz,
  decided_by     jsonb,
  reason         text,
  executed_at    timestamptz
);

-- At most one pending review per requester and exact request: re-sends reuse it.
CREATE UNIQUE INDEX reviews_pending_once ON reviews (requester_key, fingerprint) WHERE status = 'pending';

CREATE INDEX reviews_open_expiry ON reviews (expires_at) WHERE status IN ('pending', 'approved');

CREATE INDEX reviews_requester ON reviews (requester_key, connection, status);

CREATE INDEX reviews_created ON reviews (created_at DESC, id);

-- One row per distinct approver (the principal's id): min_approvals counts rows.
CREATE TABLE review_approvals (
  review_id  text NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
  approver   text NOT NULL,
  actor      jsonb NOT NULL,
  comment    text,
  at         timestamptz NOT NULL,
  PRIMARY KEY (review_id, approver)
);
