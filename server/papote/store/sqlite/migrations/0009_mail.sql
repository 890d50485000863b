-- Mail beyond continuation (docs/channels.md): agents' own mail (invitations, password reset, "a
-- conversation is waiting"), email as a channel of its own, transcripts.

-- A delivery may belong to no site: an agent's password reset is the account's, not a site's.
-- SQLite cannot drop a NOT NULL in place: the table is rebuilt (nothing references it).
CREATE TABLE deliveries_rebuilt (
    id              TEXT PRIMARY KEY,
    site_id         TEXT REFERENCES sites(id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    visitor_id      TEXT NOT NULL,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
INSERT INTO deliveries_rebuilt SELECT id, site_id, conversation_id, visitor_id, channel, kind, target, payload,
    status, attempts, next_attempt_at, error, created_at, sent_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_rebuilt RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries(channel, next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_conversation ON deliveries(conversation_id, created_at);

-- Password reset links: only the token's digest is kept; a row is deleted when used (single use).
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX password_resets_agent ON password_resets(agent_id);

-- "A conversation is waiting" went out for this conversation: once per conversation, not per message.
CREATE TABLE waiting_notices (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL
) WITHOUT ROWID;

-- An agent's choices about the mail Papote sends them (a row only once they chose).
CREATE TABLE agent_mail_prefs (
    agent_id       TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    waiting_emails INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;

-- Conversations that came in by mail to a site's support address: what the agents' replies thread on.
CREATE TABLE email_threads (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    address         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) WITHOUT ROWID;
