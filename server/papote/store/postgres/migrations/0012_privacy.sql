-- Privacy a site owner can prove (docs/privacy.md): the audit log of admin actions, and the indexes the
-- retention job walks by age. What holds personal data is listed in papote/privacy/registry.py.

-- Append-only: rows are only ever inserted; the trigger refuses any change or deletion, whoever asks.
-- An entry names its actor and target by id and never copies personal data.
CREATE TABLE audit_log (
    id         text PRIMARY KEY,
    site_id    text NOT NULL,                  -- no foreign key: the log outlives what it names
    at         bigint NOT NULL,
    actor_kind text NOT NULL CHECK (actor_kind IN ('agent', 'api_key', 'system')),
    actor_id   text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    details    jsonb NOT NULL DEFAULT '{}'     -- what changed (setting names, a role, counts)
);
CREATE INDEX audit_log_site ON audit_log(site_id, at);

CREATE FUNCTION papote_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION papote_audit_append_only();
-- (TRUNCATE, a table owner's act outside the server, is not a row event and is not refused.)

-- Retention walks a site's rows oldest first, a bounded batch at a time (sqlite/0011_privacy.sql says why
-- these cost the append path nothing).
CREATE INDEX conversations_age ON conversations(site_id, created_at, id);
CREATE INDEX visitors_age ON visitors(site_id, last_seen);
CREATE INDEX attachments_age ON attachments(site_id, created_at);

-- An erasure finds a visitor's rows by these columns (store/personal_data.py's scopes): without them each
-- erasure — and retention erases visitors by the hundred — would read these tables whole.
CREATE INDEX deliveries_visitor ON deliveries(visitor_id);
CREATE INDEX email_addresses_visitor ON email_addresses(visitor_id);
CREATE INDEX attachments_uploader ON attachments(uploader_id);
CREATE INDEX link_codes_visitor ON link_codes(visitor_id);
