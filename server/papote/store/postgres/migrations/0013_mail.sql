-- Mail beyond continuation (docs/channels.md): agents' own mail (invitations, password reset, "a
-- conversation is waiting"), email as a channel of its own, transcripts.

-- Password reset links: only the token's digest is kept; a row is deleted when used (single use).
CREATE TABLE password_resets (
    token_hash text PRIMARY KEY,
    agent_id   text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    expires_at bigint NOT NULL,
    created_at bigint NOT NULL
);
CREATE INDEX password_resets_agent ON password_resets(agent_id);

-- "A conversation is waiting" went out for this conversation: once per conversation, not per message.
CREATE TABLE waiting_notices (
    conversation_id text PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    created_at      bigint NOT NULL
);

-- An agent's choices about the mail Papote sends them (a row only once they chose).
CREATE TABLE agent_mail_prefs (
    agent_id       text PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    waiting_emails boolean NOT NULL DEFAULT true
);

-- Conversations that came in by mail to a site's support address: what the agents' replies thread on.
CREATE TABLE email_threads (
    conversation_id text PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    site_id         text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    address         text NOT NULL,
    subject         text NOT NULL,
    created_at      bigint NOT NULL
);
