-- Privacy a site owner can prove (docs/privacy.md): the audit log of admin actions, and the indexes the
-- retention job walks by age. What holds personal data is listed in papote/privacy/registry.py.

-- Append-only: rows are only ever inserted; the triggers refuse any change or deletion, whoever asks
-- (the server never does; a person with the database file could drop the triggers, not quietly edit).
-- An entry names its actor and target by id and never copies personal data (an erasure's entry names
-- the erased visitor's id, which then points at nothing).
CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL,                  -- no foreign key: the log outlives what it names
    at         INTEGER NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('agent', 'api_key', 'system')),
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}'      -- JSON: what changed (setting names, a role, counts)
);
CREATE INDEX audit_log_site ON audit_log(site_id, at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Retention walks a site's rows oldest first, a bounded batch at a time. These columns never change
-- after insert (created_at) or change at most once a minute (last_seen), so the append path pays nothing.
CREATE INDEX conversations_age ON conversations(site_id, created_at, id);
CREATE INDEX visitors_age ON visitors(site_id, last_seen);
CREATE INDEX attachments_age ON attachments(site_id, created_at);

-- An erasure finds a visitor's rows by these columns (store/personal_data.py's scopes): without them each
-- erasure — and retention erases visitors by the hundred — would read these tables whole.
CREATE INDEX deliveries_visitor ON deliveries(visitor_id);
CREATE INDEX email_addresses_visitor ON email_addresses(visitor_id);
CREATE INDEX attachments_uploader ON attachments(uploader_id);
CREATE INDEX link_codes_visitor ON link_codes(visitor_id);
