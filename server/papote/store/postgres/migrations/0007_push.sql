-- Web Push: each row is one browser of one agent (docs/operations.md, "Alerts on the phone"). The
-- endpoint is the push service's URL for that browser: unique, a browser re-subscribing replaces its
-- row. The server's VAPID key pair lives in `meta` (key 'vapid_keys'), written once by the first node.
CREATE TABLE push_subscriptions (
    id               text PRIMARY KEY,
    agent_id         text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    endpoint         text NOT NULL UNIQUE,
    p256dh           text NOT NULL,
    auth             text NOT NULL,
    label            text NOT NULL DEFAULT '',
    new_conversation boolean NOT NULL DEFAULT true,
    visitor_reply    boolean NOT NULL DEFAULT true,
    transfer         boolean NOT NULL DEFAULT true,
    created_at       bigint NOT NULL
);
CREATE INDEX push_subscriptions_agent ON push_subscriptions(agent_id, created_at);
