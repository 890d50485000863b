-- Teams that stay apart (issue 11): a membership can be disabled on its own site; server operators are
-- flagged; sign-in failures remember the client address and the device; devices that signed in before;
-- pending invitations get an id and a date, to be listed, withdrawn, accepted or declined.

-- Disabling acts on one site's membership. `agents.disabled` stays: the server operator's own act (CLI).
ALTER TABLE memberships ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

-- Operators may create sites through the API when PAPOTE_SITE_CREATION=operators (the default). The
-- oldest account is the one `papote init` made, by whoever installed the server: it becomes one.
ALTER TABLE agents ADD COLUMN operator INTEGER NOT NULL DEFAULT 0;
UPDATE agents SET operator=1 WHERE id=(SELECT id FROM agents ORDER BY created_at, id LIMIT 1);

-- `trusted`: the failure came from a device that had signed in to that account before; those do not
-- count towards the account's lockout, only towards their own device's.
ALTER TABLE login_failures ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE login_failures ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE login_failures ADD COLUMN trusted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX login_failures_address ON login_failures(address, at);

-- A browser that signed in keeps a long-lived device cookie; its SHA-256 is kept per account it signed
-- in to (one browser may be shared by two agents).
CREATE TABLE devices (
    token_hash TEXT NOT NULL,
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (token_hash, agent_id)
) WITHOUT ROWID;
CREATE INDEX devices_last_seen ON devices(last_seen);

ALTER TABLE invites ADD COLUMN id TEXT;
ALTER TABLE invites ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE invites SET id = 'i_' || substr(token_hash, 1, 24) WHERE id IS NULL;
CREATE UNIQUE INDEX invites_id ON invites(id);
CREATE INDEX invites_site ON invites(site_id);
CREATE INDEX invites_email ON invites(email);
