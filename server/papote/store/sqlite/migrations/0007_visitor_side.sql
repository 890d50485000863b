-- Proactive rules already shown to a visitor. The widget remembers them in its own storage too, but
-- that is one browser: an identified person on a second device (or an anonymous one who continued
-- there with a link code) must not see a "once per visitor" message again. Moved along on a merge.
CREATE TABLE visitor_rules (
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    rule_id    TEXT NOT NULL,
    fired_at   INTEGER NOT NULL,
    PRIMARY KEY (visitor_id, rule_id)
) WITHOUT ROWID;
