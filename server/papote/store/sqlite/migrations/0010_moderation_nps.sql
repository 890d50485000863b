-- Moderation and NPS (store/moderation.py, docs/moderation.md).

-- A visitor blocked on a site: their new messages are refused with `blocked` (not stored, not routed).
CREATE TABLE blocked_visitors (
    site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    blocked_by TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (site_id, visitor_id)
) WITHOUT ROWID;

-- A visitor's message the spam filter held for review: not in the seq stream until an agent releases it.
CREATE TABLE held_messages (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    visitor_id      TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    author_name     TEXT NOT NULL DEFAULT '',
    client_msg_id   TEXT NOT NULL,
    body            TEXT NOT NULL,
    data            TEXT,
    reasons         TEXT NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL,
    UNIQUE (visitor_id, client_msg_id)
);
CREATE INDEX held_messages_site ON held_messages(site_id, created_at);

-- An agent's saved inbox filter.
CREATE TABLE saved_views (
    id         TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    labels     TEXT NOT NULL DEFAULT '[]',
    status     TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (site_id, agent_id, name)
);

-- An NPS survey offered after a conversation closed, and its one answer (score NULL until answered).
CREATE TABLE nps_surveys (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    visitor_id      TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    score           INTEGER CHECK (score BETWEEN 0 AND 10),
    comment         TEXT NOT NULL DEFAULT '',
    answered_at     INTEGER,
    channel         TEXT NOT NULL DEFAULT '',
    -- When the email decision was taken (the survey mailed to a visitor who left, or not): once only.
    emailed_at      INTEGER
);
CREATE INDEX nps_surveys_visitor ON nps_surveys(visitor_id, created_at);
CREATE INDEX nps_surveys_site ON nps_surveys(site_id, answered_at);
CREATE INDEX nps_surveys_unmailed ON nps_surveys(created_at) WHERE emailed_at IS NULL AND score IS NULL;
