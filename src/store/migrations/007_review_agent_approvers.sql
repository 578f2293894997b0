-- Reviews snapshot whether their rule lets a person with an acting AI agent decide them
-- (reviews.rules[].agent_approvers, default false: only a person with no acting agent decides).
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS agent_approvers boolean NOT NULL DEFAULT false;
