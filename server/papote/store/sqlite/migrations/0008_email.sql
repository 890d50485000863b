-- Channels: the outbox every delivery to another system goes through, and email continuation's state
-- (store/outbox.py, docs/channels.md).

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    visitor_id      TEXT NOT NULL,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- queued: when it is due; sending: when the claim's lease ends and another claim may take it.
    next_attempt_at INTEGER NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX deliveries_due ON deliveries(channel, next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_conversation ON deliveries(conversation_id, created_at);

-- Up to which seq the "email the visitor or not" decision was taken, per conversation.
CREATE TABLE email_cursors (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    emailed_seq     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;

-- An address's standing with a site: pending confirmation, confirmed, unsubscribed, bouncing.
CREATE TABLE email_addresses (
    site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'unsubscribed', 'bouncing')),
    visitor_id TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (site_id, email)
) WITHOUT ROWID;

-- No index is added to conversations: the continuation scan reads them per site through the inbox index
-- (site_id, status, updated_at), so an append updates no more index than before.
