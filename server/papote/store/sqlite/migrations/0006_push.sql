-- Web Push: each row is one browser of one agent (docs/operations.md, "Alerts on the phone"). The
-- endpoint is the push service's URL for that browser: unique, a browser re-subscribing replaces its
-- row. The server's VAPID key pair lives in `meta` (key 'vapid_keys'), written once by the first node.
CREATE TABLE push_subscriptions (
    id               TEXT PRIMARY KEY,
    agent_id         TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    endpoint         TEXT NOT NULL UNIQUE,
    p256dh           TEXT NOT NULL,
    auth             TEXT NOT NULL,
    label            TEXT NOT NULL DEFAULT '',
    new_conversation INTEGER NOT NULL DEFAULT 1,
    visitor_reply    INTEGER NOT NULL DEFAULT 1,
    transfer         INTEGER NOT NULL DEFAULT 1,
    created_at       INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_agent ON push_subscriptions(agent_id, created_at);
