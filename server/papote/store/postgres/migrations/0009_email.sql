-- Channels: the outbox every delivery to another system goes through, and email continuation's state
-- (store/outbox.py, docs/channels.md).

CREATE TABLE deliveries (
    id              text PRIMARY KEY,
    site_id         text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    conversation_id text REFERENCES conversations(id) ON DELETE CASCADE,
    visitor_id      text NOT NULL,
    channel         text NOT NULL,
    kind            text NOT NULL,
    target          text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- queued: when it is due; sending: when the claim's lease ends and another claim may take it.
    next_attempt_at bigint NOT NULL,
    error           text NOT NULL DEFAULT '',
    created_at      bigint NOT NULL,
    sent_at         bigint
);
CREATE INDEX deliveries_due ON deliveries(channel, next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_conversation ON deliveries(conversation_id, created_at);

-- Up to which seq the "email the visitor or not" decision was taken, per conversation.
CREATE TABLE email_cursors (
    conversation_id text PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    emailed_seq     bigint NOT NULL,
    updated_at      bigint NOT NULL
);

-- An address's standing with a site: pending confirmation, confirmed, unsubscribed, bouncing.
CREATE TABLE email_addresses (
    site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    email      text NOT NULL,
    state      text NOT NULL CHECK (state IN ('pending', 'confirmed', 'unsubscribed', 'bouncing')),
    visitor_id text NOT NULL DEFAULT '',
    updated_at bigint NOT NULL,
    PRIMARY KEY (site_id, email)
);

-- No index is added to conversations: the continuation scan reads them per site through the inbox index
-- (site_id, status, updated_at), so an append updates no more index than before.
