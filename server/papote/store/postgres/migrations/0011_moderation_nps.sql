-- Moderation and NPS (store/moderation.py, docs/moderation.md).

-- A visitor blocked on a site: their new messages are refused with `blocked` (not stored, not routed).
CREATE TABLE blocked_visitors (
    site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    visitor_id text NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    blocked_by text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    created_at bigint NOT NULL,
    PRIMARY KEY (site_id, visitor_id)
);

-- A visitor's message the spam filter held for review: not in the seq stream until an agent releases it.
CREATE TABLE held_messages (
    id              text PRIMARY KEY,
    site_id         text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    conversation_id text REFERENCES conversations(id) ON DELETE CASCADE,
    visitor_id      text NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    author_name     text NOT NULL DEFAULT '',
    client_msg_id   text NOT NULL,
    body            text NOT NULL,
    data            jsonb,
    reasons         jsonb NOT NULL DEFAULT '[]',
    created_at      bigint NOT NULL,
    UNIQUE (visitor_id, client_msg_id)
);
CREATE INDEX held_messages_site ON held_messages(site_id, created_at);

-- An agent's saved inbox filter.
CREATE TABLE saved_views (
    id         text PRIMARY KEY,
    site_id    text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    agent_id   text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    name       text NOT NULL,
    labels     jsonb NOT NULL DEFAULT '[]',
    status     text,
    created_at bigint NOT NULL,
    UNIQUE (site_id, agent_id, name)
);

-- An NPS survey offered after a conversation closed, and its one answer (score NULL until answered).
CREATE TABLE nps_surveys (
    id              text PRIMARY KEY,
    site_id         text NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    visitor_id      text NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    created_at      bigint NOT NULL,
    score           integer CHECK (score BETWEEN 0 AND 10),
    comment         text NOT NULL DEFAULT '',
    answered_at     bigint,
    channel         text NOT NULL DEFAULT '',
    -- When the email decision was taken (the survey mailed to a visitor who left, or not): once only.
    emailed_at      bigint
);
CREATE INDEX nps_surveys_visitor ON nps_surveys(visitor_id, created_at);
CREATE INDEX nps_surveys_site ON nps_surveys(site_id, answered_at);
CREATE INDEX nps_surveys_unmailed ON nps_surveys(created_at) WHERE emailed_at IS NULL AND score IS NULL;
